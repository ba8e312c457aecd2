{# The partition window a run processes: raw partition dates in [start_date, end_date). #}
{% macro in_window(column) -%}
    {{ column }} >= cast('{{ var("start_date") }}' as date) and {{ column }} < cast('{{ var("end_date") }}' as date)
{%- endmacro %}

{# Incremental models replace their window: delete it first, then the model appends the new rows. #}
{% macro delete_window() -%}
    {% if is_incremental() %}delete from {{ this }} where {{ in_window('partition_date') }}{% endif %}
{%- endmacro %}

{# Custom schemas are used as given (staging, intermediate, main), not prefixed with the target schema. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}

{# The typeable order records, all partitions: staging views read them, and filters on partition_date reach the
   base table's scan, so a run that asks for its window reads only its window. #}
{% macro typed_records() -%}
    select * exclude (quarantine_reason, raw_json)
    from {{ ref('base_amazon_sp_api__order_records') }}
    where quarantine_reason is null
{%- endmacro %}

{# A mart of an order's parts (packages, registrations) drops every order of the run's window before it inserts
   their latest versions: delete+insert alone would keep the parts of an order whose latest version has none. #}
{% macro delete_latest_orders() -%}
    {% if is_incremental() %}delete from {{ this }} where (account_id, order_id) in
        (select account_id, order_id from {{ ref('int_orders_latest') }}){% endif %}
{%- endmacro %}

{# Keep only the rows of each order's latest version (int_orders_latest): how every mart picks what it merges. #}
{% macro latest_versions_of(alias) -%}
semi join {{ ref('int_orders_latest') }} as l
    on {{ alias }}.account_id = l.account_id and {{ alias }}.order_id = l.order_id
   and {{ alias }}.partition_date = l.partition_date and {{ alias }}.page_number = l.page_number
   and {{ alias }}.record_index = l.record_index
{%- endmacro %}

{# The columns that name an order version in a staging view: where its record sits, when it was fetched, which
   order it is and when Amazon last changed it. #}
{% macro version_columns() -%}
    account_id,
    partition_date,
    page_number,
    record_index,
    fetched_at,
    order_id,
    last_updated_at
{%- endmacro %}

{# Each element of a typed list column (an order's packages, its tax registrations) with its version's columns, as
   `alias`; versions whose list is empty or absent give no row. #}
{% macro each_of_versions(list_column, alias) -%}
    select {{ version_columns() }}, unnest({{ list_column }}) as {{ alias }}
    from ({{ typed_records() }})
    where len({{ list_column }}) > 0
{%- endmacro %}
