-- What each package holds: one row per (order_id, package_reference_id, order_item_id), from the order's latest
-- version.
{{ config(unique_key=['account_id', 'order_id'], pre_hook="{{ delete_latest_orders() }}") }}

with items as (
    select p.account_id, p.order_id, p.package_reference_id, p.partition_date, unnest(p.items) as x
    from {{ ref('stg_amazon_sp_api__order_packages') }} as p
    {{ latest_versions_of('p') }}
)

select
    account_id,
    order_id,
    package_reference_id,
    x.order_item_id,
    x.quantity,
    partition_date as last_changed_partition
from items
