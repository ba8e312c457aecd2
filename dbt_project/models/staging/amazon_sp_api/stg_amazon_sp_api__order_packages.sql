-- One row per package per order version seen (seller-fulfilled orders), with its items as a list.
with packages as (
    {{ each_of_versions('packages', 'p') }}
)

select
    {{ version_columns() }},
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
