-- One row per package per order version seen (seller-fulfilled orders), with its items as a list.
with packages as (
    select account_id, partition_date, page_number, record_index, fetched_at, order_id, last_updated_at,
           unnest(packages) as p
    from ({{ typed_records() }})
    where len(packages) > 0
)

select
    account_id,
    partition_date,
    page_number,
    record_index,
    fetched_at,
    order_id,
    last_updated_at,
    p.package_reference_id,
    p.carrier,
    p.tracking_number,
    p.shipping_service,
    p.status as package_status,
    p.detailed_status as package_detailed_status,
    p.created_at,
    p.shipped_at,
    p.items
from packages
