{# The partition window a run processes: raw partition dates in [start_date, end_date). #}
{% macro in_window(column) -%}
    {{ column }} >= cast('{{ var("start_date") }}' as date) and {{ column }} < cast('{{ var("end_date") }}' as date)
{%- endmacro %}

{# Incremental staging replaces its window: delete it first, then the model appends the new rows. #}
{% macro delete_window() -%}
    {% if is_incremental() %}delete from {{ this }} where {{ in_window('partition_date') }}{% endif %}
{%- endmacro %}

{# Custom schemas are used as given (staging, intermediate, main), not prefixed with the target schema. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}

{# Amazon amounts are decimal strings; anything else is NULL here and a quarantine reason elsewhere. #}
{% macro to_amount(expr) -%}
    try_cast(nullif({{ expr }}, '') as decimal(18, 4))
{%- endmacro %}

{% macro to_utc(expr) -%}
    try_cast(nullif({{ expr }}, '') as timestamptz)
{%- endmacro %}

{# The typeable order records of the run's window: what every staging model starts from. #}
{% macro typed_records() -%}
    select * from {{ ref('base_amazon_sp_api__order_records') }}
    where quarantine_reason is null and {{ in_window('partition_date') }}
{%- endmacro %}

{# The latest version of every order that changed in the run's window (of every order on a full build).
   Marts merge exactly these, so re-running any partition in any order converges on the same tables. #}
{% macro latest_versions_changed_in_window() -%}
    select account_id, order_id, partition_date, page_number, fetched_at, last_updated_at
    from {{ ref('int_orders_latest') }}
    {% if is_incremental() %}
    where (account_id, order_id) in (
        select account_id, order_id from {{ ref('stg_amazon_sp_api__orders') }}
        where {{ in_window('partition_date') }})
    {% endif %}
{%- endmacro %}
