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
