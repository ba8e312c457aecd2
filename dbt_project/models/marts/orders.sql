-- Current state of every order: one row per order. Each run re-merges the orders that changed in its window.
{{ config(unique_key=['account_id', 'order_id']) }}

select
    o.account_id,
    o.order_id,
    o.seller_order_id,
    o.marketplace_id,
    o.marketplace_name,
    o.sales_channel,
    o.purchased_at,
    o.purchase_date,
    o.purchase_date_local,
    o.marketplace_time_zone,
    o.last_updated_at,
    o.order_status,
    o.fulfilled_by,
    o.fulfillment_service_level,
    o.is_prime,
    o.is_business,
    o.is_premium,
    o.is_preorder,
    o.order_total_amount,
    o.currency_code,
    o.payment_method,
    o.points_cost_amount,
    o.buyer_invoice_preference,
    o.invoice_status,
    o.fulfillment_order_ids,
    o.line_count,
    o.quantity_ordered,
    o.quantity_fulfilled,
    o.ship_by_earliest_at,
    o.ship_by_latest_at,
    o.deliver_by_earliest_at,
    o.deliver_by_latest_at,
    o.api_version,
    o.partition_date as last_changed_partition,
    o.fetched_at
from {{ ref('stg_amazon_sp_api__orders') }} as o
semi join {{ ref('int_orders_latest') }} as l
    on o.account_id = l.account_id and o.order_id = l.order_id and o.partition_date = l.partition_date
   and o.page_number = l.page_number and o.record_index = l.record_index
