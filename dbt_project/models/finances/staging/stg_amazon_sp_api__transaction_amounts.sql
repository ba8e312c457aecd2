-- Every transaction's breakdown tree flattened once into its leaf amounts: one row per leaf, with its path below the
-- top-level bucket (`AmazonFees/Commission/Base`) and the category that path has for the transaction's type in
-- seeds/finances/finance_amount_types.csv (`unmapped` when it has none). An item's tree is read where the
-- transaction has items (Amazon's transaction-level tree only sums them); the transaction's own tree otherwise (fees
-- without an order). The top-level bucket (Sales, Expenses) follows the sign, not the nature, so it is kept apart.
{{ config(materialized="incremental", incremental_strategy="append", pre_hook="{{ delete_window() }}") }}

with recursive transactions as (
    select b.*, r.raw_json
    from {{ ref('stg_amazon_sp_api__transactions') }} as b
    join {{ ref('base_amazon_sp_api__transactions') }} as r using (account_id, partition_date, read_id, transaction_id)
    where {{ in_window('b.partition_date') }} and {{ in_window('r.partition_date') }}
),

items as (
    select
        t.account_id, t.partition_date, t.transaction_id,
        cast(i.key as integer) as item_index,
        list_filter(from_json(json_extract(i.value, '$.contexts'),
                              '[{"contextType": "VARCHAR", "sku": "VARCHAR", "asin": "VARCHAR",
                                 "quantityShipped": "VARCHAR", "fulfillmentNetwork": "VARCHAR"}]'),
                    c -> c.contextType = 'ProductContext')[1] as product,
        i.value as item_json
    from transactions as t, json_each(t.raw_json, '$.items') as i
    where json_type(i.value) = 'OBJECT'
),

roots as (
    select i.account_id, i.partition_date, i.transaction_id, i.item_index, i.product, b.value as node
    from items as i, json_each(i.item_json, '$.breakdowns') as b
    union all
    select t.account_id, t.partition_date, t.transaction_id, null, null, b.value
    from transactions as t, json_each(t.raw_json, '$.breakdowns') as b
    where not exists (select 1 from items as i where i.account_id = t.account_id
                      and i.partition_date = t.partition_date and i.transaction_id = t.transaction_id)
),

tree(account_id, partition_date, transaction_id, item_index, product, depth, bucket, breakdown_path, node) as (
    select account_id, partition_date, transaction_id, item_index, product, 1,
           json_extract_string(node, '$.breakdownType'), '', node
    from roots
    where json_type(node) = 'OBJECT'
    union all
    select tree.account_id, tree.partition_date, tree.transaction_id, tree.item_index, tree.product, tree.depth + 1,
           tree.bucket,
           case when tree.breakdown_path = '' then '' else tree.breakdown_path || '/' end
               || coalesce(json_extract_string(c.value, '$.breakdownType'), '?'),
           c.value
    from tree, json_each(tree.node, '$.breakdowns') as c
    where json_type(c.value) = 'OBJECT' and tree.depth < 8
)

select
    t.account_id,
    t.partition_date,
    t.read_id,
    t.fetched_at,
    t.transaction_id,
    t.transaction_type,
    t.transaction_status,
    t.posted_at,
    t.order_id,
    t.settlement_id,
    t.marketplace_id,
    t.currency_code,
    l.item_index,
    l.product.sku as sku,
    l.product.asin as asin,
    try_cast(l.product.quantityShipped as integer) as quantity,
    l.product.fulfillmentNetwork as fulfillment_network,
    l.bucket,
    l.breakdown_path,
    coalesce(m.category, 'unmapped') as category,
    {{ to_amount("json_extract_string(l.node, '$.breakdownAmount.currencyAmount')") }} as amount
from tree as l
join transactions as t using (account_id, partition_date, transaction_id)
left join {{ ref('finance_amount_types') }} as m
    on m.transaction_type = t.transaction_type and m.breakdown_path = l.breakdown_path
where coalesce(json_array_length(l.node, '$.breakdowns'), 0) = 0
