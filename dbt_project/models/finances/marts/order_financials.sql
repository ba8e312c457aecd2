-- Grain: one row per (account_id, order_id, currency_code): what the seller keeps of each order, from every
-- transaction Amazon posted for it (shipments, refunds), each in its latest version. The orders the run's window
-- of posted days touched are computed again from all their transactions, wherever those were posted.
{{ config(unique_key=['account_id', 'order_id', 'currency_code']) }}

with amounts as (
    {{ amounts_of_touched_orders() }}
),

transactions as (
    {{ transaction_money(['account_id', 'order_id', 'currency_code']) }}
)

select
    t.account_id,
    t.order_id,
    t.currency_code,
    any_value(t.marketplace_id) as marketplace_id,
    {{ financial_sums() }}
from transactions as t
group by t.account_id, t.order_id, t.currency_code
