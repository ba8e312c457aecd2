-- The returns reports' lines that cannot be a return, each once (its latest read), with why and the line as read:
-- a malformed line (its field count differs from the header's), or one without an order id, SKU, license plate or
-- RMA id, a date or a positive quantity. Nothing of a report is dropped: every other line is in order_returns.
{{ config(materialized="table") }}

select account_id, report_type, quarantine_reason as reason, row_json, report_id, read_id, fetched_at
from {{ ref('stg_amazon_sp_api__return_rows') }}
where quarantine_reason is not null
qualify row_number() over (partition by account_id, report_type, cast(row_json as varchar)
                           order by fetched_at desc, read_id desc) = 1
