-- Records that could not be typed: the raw JSON, why, and where they came from.
{{ config(materialized="incremental", incremental_strategy="append", pre_hook="{{ delete_window() }}") }}

select
    account_id, partition_date, page_number, record_index, api_version, fetched_at,
    order_id, quarantine_reason as reason, raw_json
from {{ ref('base_amazon_sp_api__order_records') }}
where quarantine_reason is not null and {{ in_window('partition_date') }}
