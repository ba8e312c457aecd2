-- One row per item per order version seen.
{{ config(pre_hook="{{ delete_window() }}") }}

with records as (
    {{ typed_records() }}
),

items as (
    select
        account_id, partition_date, page_number, fetched_at, api_version, order_id,
        {{ to_utc("order_json ->> '$.lastUpdatedTime'") }} as last_updated_at,
        unnest(cast(json_extract(order_json, '$.orderItems') as json[])) as item_json
    from records
),

renamed as (
    select
        account_id,
        partition_date,
        page_number,
        fetched_at,
        api_version,
        order_id,
        last_updated_at,
        item_json ->> '$.orderItemId' as order_item_id,
        nullif(item_json ->> '$.product.sellerSku', '') as sku,
        nullif(item_json ->> '$.product.asin', '') as asin,
        nullif(item_json ->> '$.product.title', '') as title,
        cast(item_json ->> '$.quantityOrdered' as integer) as quantity_ordered,
        try_cast(item_json ->> '$.fulfillment.quantityFulfilled' as integer) as quantity_fulfilled,
        {{ to_amount("item_json ->> '$.product.price.unitPrice.amount'") }} as unit_price_amount,
        {{ to_amount("item_json ->> '$.proceeds.proceedsTotal.amount'") }} as item_proceeds_amount,
        cast(coalesce(json_extract(item_json, '$.proceeds.breakdowns'), '[]') as json[]) as breakdowns,
        coalesce(
            nullif(item_json ->> '$.proceeds.proceedsTotal.currencyCode', ''),
            nullif(item_json ->> '$.product.price.unitPrice.currencyCode', '')
        ) as currency_code,
        list_transform(cast(coalesce(json_extract(item_json, '$.promotion.breakdowns'), '[]') as json[]),
                       lambda p: p ->> '$.promotionId') as promotion_ids
    from items
)

select
    * exclude (breakdowns),
    -- The ITEM breakdown is the line total; when it is absent, unit price x quantity.
    coalesce(
        list_sum(list_transform(list_filter(breakdowns, lambda b: b ->> '$.type' = 'ITEM'),
                                lambda b: {{ to_amount("b ->> '$.subtotal.amount'") }})),
        unit_price_amount * quantity_ordered
    ) as line_total_amount,
    list_sum(list_transform(list_filter(breakdowns, lambda b: b ->> '$.type' = 'TAX'),
                            lambda b: {{ to_amount("b ->> '$.subtotal.amount'") }})) as tax_amount,
    list_sum(list_transform(list_filter(breakdowns, lambda b: b ->> '$.type' = 'SHIPPING'),
                            lambda b: {{ to_amount("b ->> '$.subtotal.amount'") }})) as shipping_amount,
    -- DISCOUNT subtotals are negative; the clean column is the discount as a positive amount.
    -list_sum(list_transform(list_filter(breakdowns, lambda b: b ->> '$.type' = 'DISCOUNT'),
                             lambda b: {{ to_amount("b ->> '$.subtotal.amount'") }})) as promotion_discount_amount
from renamed
