-- The packages of each seller-fulfilled order's latest version: one row per (order_id, package_reference_id).
-- Every order of the window is deleted first, so a package that vanished from a later version does not linger (an
-- order may have no package left to replace it with).
{{ config(unique_key=['account_id', 'order_id'], pre_hook="{{ delete_latest_orders() }}") }}

select
    p.account_id,
    p.order_id,
    p.package_reference_id,
    p.carrier,
    p.tracking_number,
    p.shipping_service,
    p.package_status,
    p.package_detailed_status,
    p.created_at,
    p.shipped_at,
    cast(list_sum(list_transform(p.items, lambda x: x.quantity)) as integer) as quantity,
    p.last_updated_at,
    p.partition_date as last_changed_partition
from {{ ref('stg_amazon_sp_api__order_packages') }} as p
{{ latest_versions_of('p') }}
