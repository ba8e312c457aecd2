-- Every line of every settlement report, typed: amounts from the file's local number format, times from V2's
-- 'YYYY-MM-DD HH:MM:SS UTC'. Row 1 of a report is its summary (the settlement), the others its lines. `order-id`
-- is not always an order: on FBA fee rows it can hold an inbound shipment id (FBA…), kept apart as fba_shipment_id.
-- A report listed again later (Amazon keeps them 90 days) is the same settlement: the latest fetch is kept.
with reports as (
    select account_id, report_id, settlement_id, fetched_at
    from {{ source('amazon_sp_api', 'settlement_reports') }}
    qualify row_number() over (partition by account_id, settlement_id order by fetched_at desc, report_id desc) = 1
)

select
    r.account_id,
    r.report_id,
    r.row_number,
    coalesce(nullif(r.row_json ->> 'settlement-id', ''), p.settlement_id) as settlement_id,
    r.row_number = 1 as is_summary,
    {{ settlement_time("nullif(r.row_json ->> 'settlement-start-date', '')") }} as settlement_start_at,
    {{ settlement_time("nullif(r.row_json ->> 'settlement-end-date', '')") }} as settlement_end_at,
    {{ settlement_time("nullif(r.row_json ->> 'deposit-date', '')") }} as deposit_at,
    {{ local_amount("nullif(r.row_json ->> 'total-amount', '')") }} as total_amount,
    nullif(r.row_json ->> 'currency', '') as currency_code,
    nullif(r.row_json ->> 'transaction-type', '') as transaction_type,
    case when not starts_with(r.row_json ->> 'order-id', 'FBA') then nullif(r.row_json ->> 'order-id', '') end
        as order_id,
    case when starts_with(r.row_json ->> 'order-id', 'FBA') then r.row_json ->> 'order-id' end as fba_shipment_id,
    nullif(r.row_json ->> 'adjustment-id', '') as adjustment_id,
    nullif(r.row_json ->> 'shipment-id', '') as shipment_id,
    nullif(r.row_json ->> 'marketplace-name', '') as marketplace_name,
    nullif(r.row_json ->> 'amount-type', '') as amount_type,
    nullif(r.row_json ->> 'amount-description', '') as amount_description,
    {{ local_amount("nullif(r.row_json ->> 'amount', '')") }} as amount,
    r.row_json ->> 'amount' as amount_text,
    nullif(r.row_json ->> 'fulfillment-id', '') as fulfillment_id,
    {{ settlement_time("nullif(r.row_json ->> 'posted-date-time', '')") }} as posted_at,
    nullif(r.row_json ->> 'sku', '') as sku,
    try_cast(nullif(r.row_json ->> 'quantity-purchased', '') as integer) as quantity
from {{ source('amazon_sp_api', 'settlement_rows') }} as r
join reports as p using (account_id, report_id)
