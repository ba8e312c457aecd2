-- One row per tax registration per order version seen: the business buyer's (only when PII is on: redacted before
-- landing otherwise), the seller's, the marketplace's.
with registrations as (
    {{ each_of_versions('tax_registrations', 'r') }}
)

select
    {{ version_columns() }},
    r.entity_type,
    r.legal_name,
    r.registration_type,
    r.registration_number,
    r.city,
    r.state_or_region,
    r.postal_code,
    r.country_code
from registrations
