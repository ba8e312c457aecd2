-- One row per dbt run: the raw partition window it processed and when. The completeness check uses it to
-- compare raw and staging only for partitions a run has already seen.
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    cast('{{ var("start_date") }}' as date) as start_date,
    cast('{{ var("end_date") }}' as date) as end_date,
    '{{ invocation_id }}' as invocation_id,
    cast('{{ run_started_at.isoformat() }}' as timestamptz) as run_started_at
-- depends_on: {{ ref('base_amazon_sp_api__order_records') }}
