-- One row per item per order version seen.
with items as (
    select account_id, partition_date, page_number, record_index, fetched_at, api_version, order_id,
           last_updated_at, unnest(items) as i
    from ({{ typed_records() }})
)

select
    account_id,
    partition_date,
    page_number,
    record_index,
    fetched_at,
    api_version,
    order_id,
    last_updated_at,
    i.order_item_id,
    i.sku,
    i.asin,
    i.title,
    i.quantity_ordered,
    i.quantity_fulfilled,
    i.unit_price_amount,
    -- The ITEM breakdown is the line total; when it is absent, unit price x quantity.
    cast(coalesce(i.item_amount, i.unit_price_amount * i.quantity_ordered) as {{ money_type() }}) as line_total_amount,
    cast(i.tax_amount as {{ money_type() }}) as tax_amount,
    cast(i.shipping_amount as {{ money_type() }}) as shipping_amount,
    cast(i.gift_wrap_amount as {{ money_type() }}) as gift_wrap_amount,
    -- Cash on delivery (JP), net of a waived fee.
    cast(i.cod_fee_amount as {{ money_type() }}) as cod_fee_amount,
    -- DISCOUNT subtotals are negative; the clean column is every promotional discount (item and shipping) as a
    -- positive amount.
    cast(-i.discount_amount as {{ money_type() }}) as promotion_discount_amount,
    i.item_proceeds_amount,
    i.currency_code,
    i.promotion_ids,
    -- Who collects and remits the tax: MARKETPLACE_FACILITATOR (Amazon) or NULL (the seller).
    i.tax_collection_model,
    i.tax_responsible_party,
    i.tax_reporting_scheme,
    i.points_granted,
    i.points_cost_amount
from items
