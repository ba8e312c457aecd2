-- The lines of each order's latest version: one row per (order_id, order_item_id).
-- Merged per order, so a line that vanished from a later version does not linger.
{{ config(unique_key=['account_id', 'order_id']) }}

select
    i.account_id,
    i.order_id,
    i.order_item_id,
    i.sku,
    i.asin,
    i.title,
    i.quantity_ordered,
    i.quantity_fulfilled,
    i.unit_price_amount,
    i.line_total_amount,
    i.tax_amount,
    i.shipping_amount,
    i.gift_wrap_amount,
    i.cod_fee_amount,
    i.promotion_discount_amount,
    i.item_proceeds_amount,
    i.currency_code,
    i.promotion_ids,
    i.tax_collection_model,
    i.tax_responsible_party,
    i.tax_reporting_scheme,
    -- Who owes the tax on the line: Amazon as marketplace facilitator, else the seller; unknown (NULL) for a line
    -- from an order report, which does not say.
    case when i.tax_collection_model = 'MARKETPLACE_FACILITATOR' then 'MARKETPLACE'
         when i.api_version <> 'report' then 'SELLER' end as tax_collected_by,
    i.points_granted,
    i.points_cost_amount,
    i.last_updated_at,
    i.partition_date as last_changed_partition
from {{ ref('stg_amazon_sp_api__order_items') }} as i
{{ latest_versions_of('i') }}
