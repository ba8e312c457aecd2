{# A transaction's related identifier by name (ORDER_ID, SETTLEMENT_ID, ...): the first one, or NULL. #}
{% macro related_identifier(name) -%}
    (list_filter(related_identifiers, x -> x.relatedIdentifierName = '{{ name }}')[1]).relatedIdentifierValue
{%- endmacro %}

{# The money columns of order_financials and order_item_financials: (column, which leaf amounts it sums), in the
   marts' order. Categories come from seeds/finances/finance_amount_types.csv. Signs are the seller's: what it
   receives is positive. #}
{% macro money_columns() -%}
    {%- set columns = [] -%}
    {%- for category in ['product_charges', 'shipping', 'gift_wrap', 'other_charges', 'tax', 'promotions',
                         'tax_withheld', 'commission', 'fba_fulfillment_fee', 'shipping_chargeback'] -%}
        {%- do columns.append((category, "a.category = '" ~ category ~ "'")) -%}
    {%- endfor -%}
    {%- do columns.append(('other_fees', "a.category = 'other_fee'")) -%}
    {%- for category in ['points_cost', 'refunded_principal', 'refunded_tax', 'fees_credited_back',
                         'refund_commission'] -%}
        {%- do columns.append((category, "a.category = '" ~ category ~ "'")) -%}
    {%- endfor -%}
    {%- do columns.append(('unmapped_amount', "a.category = 'unmapped'")) -%}
    {%- do columns.append(('net_proceeds', "true")) -%}
    {%- do columns.append(('deferred_amount', "a.transaction_status = 'DEFERRED'")) -%}
    {{ return(columns) }}
{%- endmacro %}

{# Leaf amounts (`a`) summed per transaction within `keys` (its money columns, its type, settlement and posting):
   the first of two steps, so that counting transactions and listing settlements reads one row per transaction,
   not one per leaf (over a year of 5,000 orders a day, 15M leaves: per leaf it did not fit dbt's 1 GB). #}
{% macro transaction_money(keys, carried=[]) -%}
    select
        {%- for key in keys %} a.{{ key }},{% endfor %}
        a.transaction_id,
        {%- for column in ['marketplace_id'] + carried %}
        any_value(a.{{ column }}) as {{ column }},
        {%- endfor %}
        any_value(a.transaction_type) as transaction_type,
        any_value(a.settlement_id) as settlement_id,
        min(a.posted_at) as first_posted_at,
        max(a.posted_at) as last_posted_at,
        max(a.partition_date) as last_changed_partition,
        {%- for name, condition in money_columns() %}
        coalesce(sum(a.amount) filter (where {{ condition }}), 0) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from amounts as a
    group by {% for key in keys %}a.{{ key }}, {% endfor %}a.transaction_id
{%- endmacro %}

{# The marts' money columns over transaction_money's rows (`t`), the second step. #}
{% macro financial_sums() -%}
    {%- for name, _ in money_columns() %}
    cast(sum(t.{{ name }}) as {{ money_type() }}) as {{ name }},
    {%- endfor %}
    cast(count(*) as integer) as transaction_count,
    cast(count(*) filter (where t.transaction_type = 'Refund') as integer) as refund_count,
    list_sort(list_distinct(list(t.settlement_id))) as settlement_ids,
    min(t.first_posted_at) as first_posted_at,
    max(t.last_posted_at) as last_posted_at,
    max(t.last_changed_partition) as last_changed_partition
{%- endmacro %}

{# The latest version of each transaction of the orders a run's window touched: their leaf amounts, from every
   posted day (a refund posts weeks after its shipment), one read per transaction. The latest read is chosen over
   (transaction, read) pairs alone: a window over every leaf row with all its columns did not fit dbt's 1 GB at a
   year of 5,000 orders a day (15M leaves). #}
{% macro amounts_of_touched_orders() -%}
    with touched as (
        select distinct account_id, order_id from {{ ref('stg_amazon_sp_api__transaction_amounts') }}
        where order_id is not null and {{ in_window('partition_date') }}
    ),
    latest_reads as (
        select account_id, transaction_id, read_id
        from (
            select distinct a.account_id, a.transaction_id, a.read_id, a.fetched_at
            from {{ ref('stg_amazon_sp_api__transaction_amounts') }} as a
            semi join touched as t on a.account_id = t.account_id and a.order_id = t.order_id
        )
        qualify dense_rank() over (partition by account_id, transaction_id order by fetched_at desc, read_id desc) = 1
    )
    select a.*
    from {{ ref('stg_amazon_sp_api__transaction_amounts') }} as a
    semi join touched as t on a.account_id = t.account_id and a.order_id = t.order_id
    semi join latest_reads as l
        on a.account_id = l.account_id and a.transaction_id = l.transaction_id and a.read_id = l.read_id
{%- endmacro %}

{# The leaves of a typed breakdown tree (a list typed by var breakdown_structure) as one list of
   {bucket, path, amount}: the path below the top-level bucket ('' for a bucket with no children); a fifth level
   with children still gets '/…' on its path. List functions per row, so no level is materialized apart. #}
{% macro breakdown_leaves(list_expr, depth=5) -%}
    flatten(list_transform({{ list_expr }}, b1 -> {{ _leaf_or_deeper(1, depth) }}))
{%- endmacro %}

{% macro _leaf_or_deeper(k, depth) -%}
    {%- set path -%}
        {%- if k == 1 -%}''{%- else -%}concat_ws('/'{% for j in range(2, k + 1) %}, b{{ j }}.breakdownType{% endfor %}){%- endif -%}
    {%- endset -%}
    {%- if k == depth -%}
        [{'bucket': b1.breakdownType, 'path': {{ path }} || case when coalesce(json_array_length(b{{ k }}.breakdowns), 0) > 0 then '/…' else '' end, 'amount': b{{ k }}.breakdownAmount.currencyAmount}]
    {%- else -%}
        case when coalesce(len(b{{ k }}.breakdowns), 0) = 0
             then [{'bucket': b1.breakdownType, 'path': {{ path }}, 'amount': b{{ k }}.breakdownAmount.currencyAmount}]
             else flatten(list_transform(b{{ k }}.breakdowns, b{{ k + 1 }} -> {{ _leaf_or_deeper(k + 1, depth) }})) end
    {%- endif -%}
{%- endmacro %}

{# A settlement file's amount in its local number format ('95,00' in the EU, '1.234,56', '1234.56'): the last of
   ',' and '.' is the decimal separator, the other one groups thousands. NULL when it is no number. #}
{% macro local_amount(expr) -%}
    {{ to_amount("case when strpos(" ~ expr ~ ", ',') > 0 and (strpos(" ~ expr ~ ", '.') = 0 or strpos(reverse("
                 ~ expr ~ "), ',') < strpos(reverse(" ~ expr ~ "), '.')) then replace(replace(" ~ expr
                 ~ ", '.', ''), ',', '.') else replace(" ~ expr ~ ", ',', '') end") }}
{%- endmacro %}

{# A settlement file's time: 'YYYY-MM-DD HH:MM:SS UTC' as V2 writes it, or ISO 8601. #}
{% macro settlement_time(expr) -%}
    coalesce(cast(try_strptime({{ expr }}, '%Y-%m-%d %H:%M:%S UTC') as timestamptz), try_cast({{ expr }} as timestamptz))
{%- endmacro %}
