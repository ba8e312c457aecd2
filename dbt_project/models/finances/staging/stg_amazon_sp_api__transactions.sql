-- The typed transactions, one row per (account_id, posted day, transaction_id): the latest read of each posted day.
select * exclude (raw_json, quarantine_reason, transaction_status_raw, page_number, record_index, items_json,
                  breakdowns_json)
from {{ ref('base_amazon_sp_api__transactions') }}
where quarantine_reason is null
