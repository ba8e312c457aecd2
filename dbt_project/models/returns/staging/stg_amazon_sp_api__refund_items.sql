-- One row per (refund transaction, SKU) of Finances v2024-06-19, its latest read: what a return is paired with. The
-- refunded amount is what went back to the buyer (product charges, promotions and tax; not the fees Amazon credits
-- the seller back), positive, as the MFN returns report's Refunded Amount states it.
with refund_transactions as (
    select account_id, partition_date, transaction_id, refund_id, posted_at, currency_code, marketplace_id
    from {{ ref('stg_amazon_sp_api__transactions') }}
    where transaction_type = 'Refund' and order_id is not null
),

quantities as (
    select account_id, partition_date, transaction_id, sku, sum(quantity) as quantity
    from (select distinct account_id, partition_date, transaction_id, item_index, sku, quantity
          from {{ ref('stg_amazon_sp_api__transaction_amounts') }}
          where transaction_type = 'Refund' and sku is not null)
    group by all
)

select
    a.account_id,
    a.order_id,
    a.sku,
    a.transaction_id,
    any_value(t.refund_id) as refund_id,
    any_value(t.marketplace_id) as marketplace_id,
    any_value(t.posted_at) as refunded_at,
    any_value(t.currency_code) as currency_code,
    cast(any_value(q.quantity) as integer) as quantity,
    cast(coalesce(-sum(a.amount) filter (where starts_with(a.breakdown_path, 'ProductCharges/')
                                            or starts_with(a.breakdown_path, 'Promotions/')
                                            or starts_with(a.breakdown_path, 'Tax/')), 0) as {{ money_type() }})
        as refunded_amount
from {{ ref('stg_amazon_sp_api__transaction_amounts') }} as a
join refund_transactions as t
    on a.account_id = t.account_id and a.partition_date = t.partition_date and a.transaction_id = t.transaction_id
join quantities as q
    on a.account_id = q.account_id and a.partition_date = q.partition_date and a.transaction_id = q.transaction_id
    and a.sku = q.sku
where a.sku is not null
group by a.account_id, a.order_id, a.sku, a.transaction_id
