-- Grain: one row per (account_id, transaction_id): money that belongs to no order (subscription, storage, inbound
-- fees, reimbursements; reserves once settlements land), in its latest version. `fee_kind` is the category its
-- amounts map to (seeds/finances/finance_amount_types.csv), `unmapped` when a name is not in the mapping.
{{ config(unique_key=['account_id', 'transaction_id'], pre_hook="{{ delete_window() }}") }}

select
    a.account_id,
    a.transaction_id,
    any_value(a.partition_date) as partition_date,
    any_value(a.transaction_type) as transaction_type,
    any_value(t.description) as description,
    any_value(a.transaction_status) as transaction_status,
    any_value(a.posted_at) as posted_at,
    any_value(a.marketplace_id) as marketplace_id,
    any_value(a.currency_code) as currency_code,
    case when count(distinct a.category) = 1 then any_value(a.category)
         else string_agg(distinct a.category, '+' order by a.category) end as fee_kind,
    list_sort(list_distinct(list(a.breakdown_path))) as breakdown_paths,
    cast(sum(a.amount) as {{ money_type() }}) as amount,
    any_value(a.settlement_id) as settlement_id
from {{ ref('stg_amazon_sp_api__transaction_amounts') }} as a
join {{ ref('stg_amazon_sp_api__transactions') }} as t using (account_id, partition_date, transaction_id)
where a.order_id is null and {{ in_window('a.partition_date') }} and {{ in_window('t.partition_date') }}
group by a.account_id, a.transaction_id
