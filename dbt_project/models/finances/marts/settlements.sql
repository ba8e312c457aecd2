-- Grain: one row per (account_id, settlement_id): one payout, from its file's summary row, with the sum of its
-- lines (reserves included) and the difference, which a blocking test holds under the currency's minor unit; and
-- the released transactions that name the same settlement (listTransactions' SETTLEMENT_ID, latest version of
-- each), which a warn test holds to the lines less the reserves (reserves are in the file only).
{{ config(materialized="table") }}

with summary as (
    select * from {{ ref('stg_amazon_sp_api__settlement_rows') }} where is_summary
),

lines as (
    select
        account_id, settlement_id,
        cast(sum(amount) as {{ money_type() }}) as lines_amount,
        cast(coalesce(sum(amount) filter (where category = 'reserve'), 0) as {{ money_type() }}) as reserve_amount,
        cast(count(*) as integer) as line_count,
        cast(count(*) filter (where amount is null) as integer) as unreadable_amounts,
        cast(count(*) filter (where category = 'unmapped') as integer) as unmapped_lines
    from {{ ref('settlement_lines') }}
    group by all
),

released as (
    select account_id, settlement_id, total_amount
    from {{ ref('stg_amazon_sp_api__transactions') }}
    where settlement_id is not null and transaction_status <> 'DEFERRED'
    qualify row_number() over (partition by account_id, transaction_id order by fetched_at desc) = 1
),

transactions as (
    select account_id, settlement_id, cast(sum(total_amount) as {{ money_type() }}) as transactions_amount,
           cast(count(*) as integer) as transaction_count
    from released
    group by all
)

select
    s.account_id,
    s.settlement_id,
    s.report_id,
    s.currency_code,
    s.settlement_start_at,
    s.settlement_end_at,
    s.deposit_at,
    cast(s.deposit_at as date) as deposit_date,
    cast(s.total_amount as {{ money_type() }}) as total_amount,
    l.lines_amount,
    cast(s.total_amount - l.lines_amount as {{ money_type() }}) as difference,
    l.reserve_amount,
    l.line_count,
    l.unreadable_amounts,
    l.unmapped_lines,
    t.transactions_amount,
    coalesce(t.transaction_count, 0) as transaction_count
from summary as s
left join lines as l using (account_id, settlement_id)
left join transactions as t using (account_id, settlement_id)
