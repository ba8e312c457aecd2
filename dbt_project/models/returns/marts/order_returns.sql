-- Grain: one row per return of an order line: (account_id, order_id, sku, return_key, return_date), where the key is
-- the unit's license plate (Amazon-fulfilled, a row per unit) or Amazon's RMA id (merchant-fulfilled, a row per
-- return), and the date its processing day (FBA return-date) or its request day (MFN). Each row is as its latest read
-- shows it. A return of an order the marts do not hold is kept (order_known false) and listed by a check.
--
-- Each return is paired with a refund of the same order and SKU (Finances v2024-06-19 Refund transactions, their
-- latest read) posted within var return_refund_tolerance_days of it, the nearest first. A refund pays for the units
-- of every return row it pairs with, so refunded_amount (what went back to the buyer: product charges, promotions
-- and tax) is on the first of them only, and sums over any rows count each refund once.
with lines as (
    select *
    from {{ ref('stg_amazon_sp_api__return_rows') }}
    where quarantine_reason is null
    qualify row_number() over (
        partition by account_id, fulfilled_by, order_id, sku, return_key, return_date
        order by fetched_at desc, read_id desc, row_number) = 1
),

refund_items as (
    select * from {{ ref('stg_amazon_sp_api__refund_items') }}
),

pairs as (
    select
        l.account_id, l.fulfilled_by, l.order_id, l.sku, l.return_key, l.return_date,
        r.transaction_id, r.refund_id, r.refunded_at, r.currency_code, r.refunded_amount
    from lines as l
    join refund_items as r
        on l.account_id = r.account_id and l.order_id = r.order_id and l.sku = r.sku
        and abs(date_diff('day', l.return_date, cast(r.refunded_at at time zone 'UTC' as date)))
            <= {{ var('return_refund_tolerance_days') }}
    qualify row_number() over (
        partition by l.account_id, l.fulfilled_by, l.order_id, l.sku, l.return_key, l.return_date
        order by abs(date_diff('day', l.return_date, cast(r.refunded_at at time zone 'UTC' as date))),
                 r.transaction_id) = 1
),

paid as (
    select
        *,
        row_number() over (partition by account_id, transaction_id order by return_date, return_key) = 1
            as carries_refund
    from pairs
)

select
    l.account_id,
    l.order_id,
    l.sku,
    l.return_key,
    l.return_date,
    l.fulfilled_by,
    o.marketplace_id,
    l.asin,
    l.product_name,
    l.quantity,
    l.reason_code,
    rr.reason,
    rr.reason_code is not null as reason_known,
    l.disposition,
    l.disposition is null or l.disposition in ({{ quoted(var('return_dispositions')) }}) as disposition_known,
    l.status,
    l.processed_at,
    l.fulfillment_center_id,
    l.customer_comments,
    l.merchant_rma_id,
    l.label_type,
    l.label_cost,
    l.label_paid_by,
    l.return_carrier,
    l.tracking_id,
    l.in_policy,
    l.a_to_z_claim,
    l.resolution,
    l.return_delivered_on,
    l.report_refunded_amount,
    p.transaction_id as refund_transaction_id,
    p.refund_id,
    p.refunded_at,
    case when p.carries_refund then p.refunded_amount end as refunded_amount,
    coalesce(p.currency_code, l.currency_code, o.currency_code) as currency_code,
    o.order_id is not null as order_known,
    l.report_id,
    l.read_id,
    l.fetched_at
from lines as l
left join {{ ref('orders') }} as o on l.account_id = o.account_id and l.order_id = o.order_id
left join {{ ref('return_reasons') }} as rr
    on rr.reason_code = regexp_replace(l.reason_code, '^(CR|AMZ-PG)-', '')
left join paid as p
    on l.account_id = p.account_id and l.fulfilled_by = p.fulfilled_by and l.order_id = p.order_id
    and l.sku = p.sku and l.return_key = p.return_key and l.return_date = p.return_date
