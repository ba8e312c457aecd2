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
    -- The day of the order as Seller Central shows it: in the marketplace's own time zone.
    {{ marketplace_time_zone('marketplace_id') }} as marketplace_time_zone,
    {{ marketplace_local_date('marketplace_id', 'purchased_at') }} as purchase_date_local,
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
    payment_method,
    buyer_invoice_preference,
    invoice_status,
    fulfillment_order_ids,
    points_cost_amount,
    cast(line_count as integer) as line_count,
    cast(quantity_ordered as integer) as quantity_ordered,
    cast(quantity_fulfilled as integer) as quantity_fulfilled
from records
