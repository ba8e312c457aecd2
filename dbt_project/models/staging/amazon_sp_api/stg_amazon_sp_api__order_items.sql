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
    coalesce(i.item_amount, i.unit_price_amount * i.quantity_ordered) as line_total_amount,
    i.tax_amount,
    i.shipping_amount,
    i.gift_wrap_amount,
    -- Cash on delivery (JP), net of a waived fee.
    i.cod_fee_amount,
    -- DISCOUNT subtotals are negative; the clean column is every promotional discount (item and shipping) as a
    -- positive amount.
    -i.discount_amount as promotion_discount_amount,
    i.item_proceeds_amount,
    i.currency_code,
    i.promotion_ids
from items
