-- One row per order record found in the window's raw pages, with the reason it cannot be typed (if any).
-- Staging reads the typeable records; quarantine keeps the others. Nothing is dropped between them.
{{ config(pre_hook="{{ delete_window() }}") }}

with pages as (
    select account_id, partition_date, page_number, api_version, fetched_at,
           cast(json_extract(page, '$.orders') as json[]) as orders
    from {{ source('amazon_sp_api', 'order_pages') }}
    where {{ in_window('partition_date') }}
),

unnested as (
    select account_id, partition_date, page_number, api_version, fetched_at,
           unnest(orders) as order_json,
           unnest(generate_series(1, len(orders))) as record_index
    from pages
),

items as (
    select account_id, partition_date, page_number, record_index,
           unnest(cast(coalesce(json_extract(order_json, '$.orderItems'), '[]') as json[])) as item_json
    from unnested
),

item_reasons as (
    select account_id, partition_date, page_number, record_index,
        min(case
            when nullif(item_json ->> '$.orderItemId', '') is null then 'missing orderItemId'
            when try_cast(item_json ->> '$.quantityOrdered' as integer) is null
                then 'quantityOrdered is not an integer: ' || coalesce(item_json ->> '$.quantityOrdered', 'null')
            when item_json ->> '$.product.price.unitPrice.amount' is not null
                 and {{ to_amount("item_json ->> '$.product.price.unitPrice.amount'") }} is null
                then 'non-numeric unitPrice amount: ' || (item_json ->> '$.product.price.unitPrice.amount')
            when item_json ->> '$.proceeds.proceedsTotal.amount' is not null
                 and {{ to_amount("item_json ->> '$.proceeds.proceedsTotal.amount'") }} is null
                then 'non-numeric proceedsTotal amount: ' || (item_json ->> '$.proceeds.proceedsTotal.amount')
            when len(list_filter(
                    cast(coalesce(json_extract(item_json, '$.proceeds.breakdowns'), '[]') as json[]),
                    lambda b: (b ->> '$.subtotal.amount') is not null
                         and {{ to_amount("b ->> '$.subtotal.amount'") }} is null)) > 0
                then 'non-numeric proceeds breakdown amount'
        end) as item_reason
    from items
    group by all
),

checked as (
    select
        u.*,
        nullif(u.order_json ->> '$.orderId', '') as order_id,
        u.order_json ->> '$.createdTime' as created_time,
        u.order_json ->> '$.lastUpdatedTime' as last_updated_time,
        u.order_json ->> '$.fulfillment.fulfillmentStatus' as fulfillment_status,
        u.order_json ->> '$.fulfillment.fulfilledBy' as fulfilled_by,
        u.order_json ->> '$.proceeds.grandTotal.amount' as grand_total,
        r.item_reason
    from unnested as u
    left join item_reasons as r using (account_id, partition_date, page_number, record_index)
)

select
    account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json, order_id,
    case
        when order_id is null then 'missing orderId'
        when {{ to_utc('last_updated_time') }} is null
            then 'unparseable lastUpdatedTime: ' || coalesce(last_updated_time, 'null')
        when {{ to_utc('created_time') }} is null
            then 'unparseable createdTime: ' || coalesce(created_time, 'null')
        when fulfillment_status is not null and fulfillment_status not in (
            'PENDING_AVAILABILITY', 'PENDING', 'UNSHIPPED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'CANCELLED',
            'UNFULFILLABLE')
            then 'unknown fulfillmentStatus: ' || fulfillment_status
        when fulfilled_by is not null and fulfilled_by not in ('AMAZON', 'MERCHANT')
            then 'unknown fulfilledBy: ' || fulfilled_by
        when grand_total is not null and {{ to_amount('grand_total') }} is null
            then 'non-numeric grandTotal amount: ' || grand_total
        when json_type(order_json, '$.orderItems') is distinct from 'ARRAY' then 'missing orderItems'
        else item_reason
    end as quarantine_reason
from checked
