-- Grain: one row per (account_id, order_id, currency_code): what the seller keeps of each order, from every
-- transaction Amazon posted for it (shipments, refunds), each in its latest version. The orders the run's window
-- of posted days touched are computed again from all their transactions, wherever those were posted.
{{ config(unique_key=['account_id', 'order_id', 'currency_code']) }}

select
    a.account_id,
    a.order_id,
    a.currency_code,
    any_value(a.marketplace_id) as marketplace_id,
    {{ financial_sums() }}
from ({{ amounts_of_touched_orders() }}) as a
group by a.account_id, a.order_id, a.currency_code
