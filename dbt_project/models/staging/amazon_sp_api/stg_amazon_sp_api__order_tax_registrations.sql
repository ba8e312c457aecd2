-- One row per tax registration per order version seen: the business buyer's (only when PII is on: redacted before
-- landing otherwise), the seller's, the marketplace's.
with registrations as (
    select account_id, partition_date, page_number, record_index, fetched_at, order_id, last_updated_at,
           unnest(tax_registrations) as r
    from ({{ typed_records() }})
    where len(tax_registrations) > 0
)

select
    account_id,
    partition_date,
    page_number,
    record_index,
    fetched_at,
    order_id,
    last_updated_at,
    r.entity_type,
    r.legal_name,
    r.registration_type,
    r.registration_number,
    r.city,
    r.state_or_region,
    r.postal_code,
    r.country_code
from registrations
