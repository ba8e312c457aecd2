-- Grain: one row per (account_id, order_id, sku, currency_code). Amazon's transactions name no order item, only
-- the SKU (ProductContext), so two lines of one SKU in an order are one row here, their money summed.
{{ config(unique_key=['account_id', 'order_id', 'sku', 'currency_code']) }}

with amounts as (
    {{ amounts_of_touched_orders() }}
),

-- Each item of a transaction once (its leaves all carry its quantity).
quantities as (
    select
        account_id, order_id, sku, currency_code,
        cast(coalesce(sum(quantity) filter (where transaction_type = 'Shipment'), 0) as integer) as quantity_shipped,
        cast(coalesce(sum(quantity) filter (where transaction_type = 'Refund'), 0) as integer) as quantity_refunded
    from (select distinct account_id, order_id, sku, currency_code, transaction_id, item_index, transaction_type,
                          quantity
          from amounts where sku is not null)
    group by all
),

transactions as (
    {{ transaction_money(['account_id', 'order_id', 'sku', 'currency_code'], ['asin', 'fulfillment_network']) }}
),

money as (
    select
        t.account_id,
        t.order_id,
        t.sku,
        t.currency_code,
        any_value(t.marketplace_id) as marketplace_id,
        any_value(t.asin) as asin,
        any_value(t.fulfillment_network) as fulfillment_network,
        {{ financial_sums() }}
    from transactions as t
    where t.sku is not null
    group by t.account_id, t.order_id, t.sku, t.currency_code
)

select
    m.account_id, m.order_id, m.sku, m.currency_code, m.marketplace_id, m.asin, m.fulfillment_network,
    q.quantity_shipped, q.quantity_refunded,
    m.* exclude (account_id, order_id, sku, currency_code, marketplace_id, asin, fulfillment_network)
from money as m
join quantities as q using (account_id, order_id, sku, currency_code)
