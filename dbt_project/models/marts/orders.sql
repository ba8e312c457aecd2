-- Current state of every order: one row per order. Each run re-merges the orders that changed in its window.
{{ config(unique_key=['account_id', 'order_id']) }}

-- depends_on: {{ ref('stg_amazon_sp_api__orders') }}
with changed as (
    {{ latest_versions_changed_in_window() }}
)

select
    l.account_id,
    l.order_id,
    l.seller_order_id,
    l.marketplace_id,
    l.marketplace_name,
    l.sales_channel,
    l.purchased_at,
    l.purchase_date,
    l.last_updated_at,
    l.order_status,
    l.fulfilled_by,
    l.fulfillment_service_level,
    l.is_prime,
    l.is_business,
    l.is_premium,
    l.is_preorder,
    l.order_total_amount,
    l.currency_code,
    l.line_count,
    l.quantity_ordered,
    l.quantity_fulfilled,
    l.ship_by_earliest_at,
    l.ship_by_latest_at,
    l.deliver_by_earliest_at,
    l.deliver_by_latest_at,
    l.api_version,
    l.partition_date as last_changed_partition,
    l.fetched_at
from {{ ref('int_orders_latest') }} as l
inner join changed using (account_id, order_id)
