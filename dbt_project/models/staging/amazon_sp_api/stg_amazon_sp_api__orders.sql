-- One row per order version seen: typed and renamed, nothing else.
{{ config(pre_hook="{{ delete_window() }}") }}

with records as (
    {{ typed_records() }}
),

renamed as (
    select
        account_id,
        partition_date,
        page_number,
        fetched_at,
        api_version,
        order_id,
        nullif(order_json ->> '$.salesChannel.marketplaceId', '') as marketplace_id,
        nullif(order_json ->> '$.salesChannel.marketplaceName', '') as marketplace_name,
        nullif(order_json ->> '$.salesChannel.channelName', '') as sales_channel,
        {{ to_utc("order_json ->> '$.createdTime'") }} as purchased_at,
        {{ to_utc("order_json ->> '$.lastUpdatedTime'") }} as last_updated_at,
        nullif(order_json ->> '$.fulfillment.fulfillmentStatus', '') as order_status,
        nullif(order_json ->> '$.fulfillment.fulfilledBy', '') as fulfilled_by,
        nullif(order_json ->> '$.fulfillment.fulfillmentServiceLevel', '') as fulfillment_service_level,
        coalesce(cast(json_extract(order_json, '$.programs') as varchar[]), []) as programs,
        {{ to_amount("order_json ->> '$.proceeds.grandTotal.amount'") }} as order_total_amount,
        coalesce(
            nullif(order_json ->> '$.proceeds.grandTotal.currencyCode', ''),
            nullif(order_json ->> '$.orderItems[0].product.price.unitPrice.currencyCode', '')
        ) as currency_code,
        {{ to_utc("order_json ->> '$.fulfillment.shipByWindow.earliestDateTime'") }} as ship_by_earliest_at,
        {{ to_utc("order_json ->> '$.fulfillment.shipByWindow.latestDateTime'") }} as ship_by_latest_at,
        {{ to_utc("order_json ->> '$.fulfillment.deliverByWindow.earliestDateTime'") }} as deliver_by_earliest_at,
        {{ to_utc("order_json ->> '$.fulfillment.deliverByWindow.latestDateTime'") }} as deliver_by_latest_at,
        nullif(order_json ->> '$.orderAliases[0].aliasId', '') as seller_order_id,
        json_array_length(order_json, '$.orderItems') as line_count,
        list_sum(list_transform(cast(json_extract(order_json, '$.orderItems') as json[]),
                                lambda i: cast(i ->> '$.quantityOrdered' as integer))) as quantity_ordered,
        list_sum(list_transform(cast(json_extract(order_json, '$.orderItems') as json[]),
                                lambda i: coalesce(try_cast(i ->> '$.fulfillment.quantityFulfilled' as integer), 0)))
            as quantity_fulfilled
    from records
)

select
    *,
    cast(purchased_at as date) as purchase_date,
    list_contains(programs, 'PRIME') as is_prime,
    list_contains(programs, 'AMAZON_BUSINESS') as is_business,
    list_contains(programs, 'PREMIUM') as is_premium,
    list_contains(programs, 'PREORDER') as is_preorder
from renamed
