-- One row per order version seen, typed and named; nothing else.
with records as (
    {{ typed_records() }}
)

select
    account_id,
    partition_date,
    page_number,
    record_index,
    fetched_at,
    api_version,
    order_id,
    marketplace_id,
    marketplace_name,
    sales_channel,
    purchased_at,
    cast(purchased_at as date) as purchase_date,
    last_updated_at,
    order_status,
    fulfilled_by,
    fulfillment_service_level,
    programs,
    list_contains(programs, 'PRIME') as is_prime,
    list_contains(programs, 'AMAZON_BUSINESS') as is_business,
    list_contains(programs, 'PREMIUM') as is_premium,
    list_contains(programs, 'PREORDER') as is_preorder,
    order_total_amount,
    currency_code,
    ship_by_earliest_at,
    ship_by_latest_at,
    deliver_by_earliest_at,
    deliver_by_latest_at,
    seller_order_id,
    line_count,
    quantity_ordered,
    quantity_fulfilled
from records
