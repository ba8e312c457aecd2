-- Every line of every returns read, both reports in one shape: GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA (a row per
-- unit Amazon's fulfilment centre processed, keyed by its license plate and return-date, the processing time) and
-- GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE (a row per merchant-fulfilled return, keyed by Amazon's RMA id and the
-- request date). Columns are read by name, so an extra column is ignored here and kept in raw.return_rows. Every read
-- of a line is here (a day is read again daily for weeks); order_returns keeps the latest. quarantine_reason says why a
-- line cannot be a return (a malformed line, no order, no SKU, no key, no date, no quantity); it then keeps row_json.
{% set fba = "p.report_type = 'GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA'" %}

with lines as (
    select
        r.account_id,
        r.report_type,
        r.read_id,
        p.report_id,
        p.fetched_at,
        r.row_number,
        r.row_json,
        r.row_json ->> '_malformed' as malformed,
        case when {{ fba }} then 'AMAZON' else 'MERCHANT' end as fulfilled_by,
        -- Some locales' help pages name the FBA column amazon-order-id; the SP-API's list says order-id.
        nullif(trim(case when {{ fba }} then coalesce(r.row_json ->> 'order-id', r.row_json ->> 'amazon-order-id')
                         else r.row_json ->> 'Order ID' end), '') as order_id,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'sku' else r.row_json ->> 'Merchant SKU' end), '') as sku,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'asin' else r.row_json ->> 'ASIN' end), '') as asin,
        nullif(case when {{ fba }} then r.row_json ->> 'product-name' else r.row_json ->> 'Item Name' end, '')
            as product_name,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'license-plate-number'
                         else r.row_json ->> 'Amazon RMA ID' end), '') as return_key,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'quantity' else r.row_json ->> 'Return quantity' end), '')
            as quantity_text,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'return-date'
                         else r.row_json ->> 'Return request date' end), '') as date_text,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'reason' else r.row_json ->> 'Return Reason' end), '')
            as reason_code,
        case when {{ fba }} then nullif(upper(trim(r.row_json ->> 'detailed-disposition')), '') end as disposition,
        nullif(trim(case when {{ fba }} then r.row_json ->> 'status' else r.row_json ->> 'Return request status' end),
               '') as status,
        nullif(r.row_json ->> 'fulfillment-center-id', '') as fulfillment_center_id,
        nullif(r.row_json ->> 'customer-comments', '') as customer_comments,
        nullif(r.row_json ->> 'Merchant RMA ID', '') as merchant_rma_id,
        nullif(r.row_json ->> 'Label type', '') as label_type,
        {{ local_amount("nullif(r.row_json ->> 'Label cost', '')") }} as label_cost,
        nullif(r.row_json ->> 'Label to be paid by', '') as label_paid_by,
        nullif(r.row_json ->> 'Currency code', '') as currency_code,
        nullif(r.row_json ->> 'Return carrier', '') as return_carrier,
        nullif(r.row_json ->> 'Tracking ID', '') as tracking_id,
        nullif(r.row_json ->> 'In policy', '') = 'Y' as in_policy,
        nullif(r.row_json ->> 'A-to-Z Claim', '') = 'Y' as a_to_z_claim,
        nullif(r.row_json ->> 'Return type', '') as return_type,
        nullif(r.row_json ->> 'Resolution', '') as resolution,
        {{ return_date("nullif(trim(r.row_json ->> 'Return delivery date'), '')") }} as return_delivered_on,
        {{ local_amount("nullif(r.row_json ->> 'Refunded Amount', '')") }} as report_refunded_amount,
        nullif(r.row_json ->> 'SafeT claim id', '') as safet_claim_id
    from {{ source('amazon_sp_api', 'return_rows') }} as r
    join {{ source('amazon_sp_api', 'return_reports') }} as p
        on r.account_id = p.account_id and r.report_type = p.report_type and r.read_id = p.read_id
        and r.window_start = p.window_start
),

typed as (
    select
        *,
        try_cast(quantity_text as integer) as quantity,
        -- FBA: a timestamp (the processing); MFN: a day.
        case when fulfilled_by = 'AMAZON' then try_cast(date_text as timestamptz) end as processed_at,
        case when fulfilled_by = 'AMAZON' then cast(try_cast(date_text as timestamptz) at time zone 'UTC' as date)
             else {{ return_date('date_text') }} end as return_date
    from lines
)

select
    * exclude (malformed, quantity_text, date_text),
    case
        when malformed is not null then malformed
        when order_id is null then 'no order id'
        when sku is null then 'no SKU'
        when return_key is null then 'no license plate or RMA id'
        when return_date is null then 'the return date ' || coalesce('''' || date_text || '''', 'is missing')
                                      || case when date_text is null then '' else ' is not a date' end
        when quantity is null or quantity <= 0 then 'the quantity ' || coalesce('''' || quantity_text || '''', '(none)')
                                                   || ' is not a positive whole number'
    end as quarantine_reason
from typed
