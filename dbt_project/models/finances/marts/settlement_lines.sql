-- Grain: one row per (account_id, settlement_id, row_number): every line of every settlement file within Amazon's
-- 90 days, Amazon's transaction-type / amount-type / amount-description kept raw, and the category they map to in
-- seeds/finances/settlement_amount_types.csv (`unmapped` when they map to none). Rebuilt whole every run: 90 days
-- of settlements are small.
{{ config(materialized="table") }}

select
    l.account_id,
    l.settlement_id,
    l.report_id,
    cast(l.row_number as integer) as row_number,
    s.currency_code,
    l.transaction_type,
    l.amount_type,
    l.amount_description,
    coalesce(m.category, 'unmapped') as category,
    cast(l.amount as {{ money_type() }}) as amount,
    l.order_id,
    l.fba_shipment_id,
    l.adjustment_id,
    l.shipment_id,
    l.marketplace_name,
    l.sku,
    l.quantity,
    l.fulfillment_id,
    l.posted_at
from {{ ref('stg_amazon_sp_api__settlement_rows') }} as l
join {{ ref('stg_amazon_sp_api__settlement_rows') }} as s
    on s.account_id = l.account_id and s.report_id = l.report_id and s.is_summary
left join {{ ref('settlement_amount_types') }} as m
    on m.transaction_type = l.transaction_type and m.amount_type = l.amount_type
   and m.amount_description = l.amount_description
where not l.is_summary
