-- Every transaction's breakdown tree flattened once into its leaf amounts: one row per leaf, with its path below the
-- top-level bucket (`AmazonFees/Commission/Base`) and the category that path has for the transaction's type in
-- seeds/finances/finance_amount_types.csv (`unmapped` when it has none). An item's tree is read where the
-- transaction has items (Amazon's transaction-level tree only sums them); the transaction's own tree otherwise (fees
-- without an order). The top-level bucket (Sales, Expenses) follows the sign, not the nature, so it is kept apart.
-- The tree is typed five levels deep in one json_transform (var breakdown_structure) and its leaves listed per row
-- (macros/finances.sql, breakdown_leaves). For 20,000 transactions (177,000 leaves), the peak memory and time of
-- the query alone: a recursive query over the JSON 771 MB and 2.0 s, a level-by-level unnest 556 MB and 1.0 s,
-- this 384 MB and 0.5 s.
{{ config(materialized="incremental", incremental_strategy="append", pre_hook="{{ delete_window() }}") }}

{% set tree = tojson(var("breakdown_structure")) %}

with transactions as (
    select * exclude (raw_json)
    from {{ ref('base_amazon_sp_api__transactions') }}
    where quarantine_reason is null and {{ in_window('partition_date') }}
),

items as (
    select
        account_id, partition_date, transaction_id,
        generate_subscripts(item_list, 1) as item_index,
        unnest(item_list) as item
    from (
        select account_id, partition_date, transaction_id,
               json_transform(items_json, '[{"contexts": [{"contextType": "VARCHAR", "sku": "VARCHAR", "asin": "VARCHAR",
                                                           "quantityShipped": "VARCHAR", "fulfillmentNetwork": "VARCHAR"}],
                                             "breakdowns": {{ tree }}}]') as item_list
        from transactions
        where json_array_length(items_json) > 0
    )
),

roots as (
    select account_id, partition_date, transaction_id, item_index,
           list_filter(item.contexts, c -> c.contextType = 'ProductContext')[1] as product,
           item.breakdowns as level_1
    from items
    union all
    select account_id, partition_date, transaction_id, null, null, json_transform(breakdowns_json, '{{ tree }}')
    from transactions
    where coalesce(json_array_length(items_json), 0) = 0
),

leaves as (
    select account_id, partition_date, transaction_id, item_index, product,
           unnest({{ breakdown_leaves('level_1') }}) as leaf
    from roots
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
    cast(l.item_index as integer) as item_index,
    l.product.sku as sku,
    l.product.asin as asin,
    try_cast(l.product.quantityShipped as integer) as quantity,
    l.product.fulfillmentNetwork as fulfillment_network,
    l.leaf.bucket as bucket,
    l.leaf.path as breakdown_path,
    coalesce(m.category, 'unmapped') as category,
    {{ to_amount('l.leaf.amount') }} as amount
from leaves as l
join transactions as t using (account_id, partition_date, transaction_id)
left join {{ ref('finance_amount_types') }} as m
    on m.transaction_type = t.transaction_type and m.breakdown_path = l.leaf.path
