-- One row per transaction of the run's window of posted days, in its latest read of that day (a later read is a
-- later version: a deferred transaction released, say), parsed once (json_transform with transaction_structure)
-- and judged once. Records that cannot be typed keep their quarantine_reason and raw JSON; the staging views read
-- only the others.
{{ config(materialized="incremental", incremental_strategy="append", pre_hook="{{ delete_window() }}") }}

--
-- The latest read of each transaction is chosen first, over its keys alone, and only those records are parsed: a
-- window sorted with every record's JSON and parsed tree did not fit dbt's 1 GB at a year of 5,000 orders a day
-- (1.9M transactions), where the keys take a few tens of MB.
with latest_records as (
    select account_id, partition_date, read_id, page_number, record_index
    from {{ source('amazon_sp_api', 'transaction_records') }}
    where {{ in_window('partition_date') }}
    qualify row_number() over (
        partition by account_id, partition_date,
                     coalesce(transaction_json ->> '$.transactionId',
                              read_id || ':' || page_number || ':' || record_index)
        order by fetched_at desc, read_id desc) = 1
),

parsed as (
    select
        r.account_id,
        r.partition_date,
        r.read_id,
        r.page_number,
        r.record_index,
        r.fetched_at,
        r.transaction_json as raw_json,
        json_transform(r.transaction_json, '{{ tojson(var("transaction_structure")) }}') as t
    from {{ source('amazon_sp_api', 'transaction_records') }} as r
    semi join latest_records as l using (account_id, partition_date, read_id, page_number, record_index)
    where {{ in_window('r.partition_date') }}
),

latest as (
    select
        * exclude (t),
        t.transactionId as transaction_id,
        t.transactionType as transaction_type,
        t.transactionStatus as transaction_status_raw,
        t.description,
        t.postedDate as posted_text,
        t.totalAmount.currencyCode as currency_code,
        t.totalAmount.currencyAmount as total_text,
        coalesce(t.marketplaceDetails.marketplaceId, t.sellingPartnerMetadata.marketplaceId) as marketplace_id,
        t.sellingPartnerMetadata.accountType as account_type,
        t.relatedIdentifiers as related_identifiers,
        list_filter(t.contexts, c -> c.contextType = 'DeferredContext')[1] as deferred_context,
        t.items as items_json,
        t.breakdowns as breakdowns_json
    from parsed
)

select
    account_id,
    partition_date,
    read_id,
    page_number,
    record_index,
    fetched_at,
    transaction_id,
    transaction_type,
    -- Amazon filters on upper case but has been seen to answer `Released` and null (a released transaction).
    coalesce(upper(transaction_status_raw), 'RELEASED') as transaction_status,
    transaction_status_raw,
    description,
    {{ to_utc('posted_text') }} as posted_at,
    marketplace_id,
    account_type,
    currency_code,
    {{ to_amount('total_text') }} as total_amount,
    {{ related_identifier('ORDER_ID') }} as order_id,
    {{ related_identifier('SHIPMENT_ID') }} as shipment_id,
    {{ related_identifier('REFUND_ID') }} as refund_id,
    {{ related_identifier('FINANCIAL_EVENT_GROUP_ID') }} as financial_event_group_id,
    {{ related_identifier('SETTLEMENT_ID') }} as settlement_id,
    deferred_context.deferralReason as deferral_reason,
    {{ to_utc('deferred_context.maturityDate') }} as maturity_at,
    items_json,
    breakdowns_json,
    case
        when json_type(raw_json) <> 'OBJECT' then 'not a JSON object'
        when transaction_id is null or transaction_id = '' then 'no transactionId'
        when {{ to_utc('posted_text') }} is null then 'postedDate is not a date-time: ' || coalesce(posted_text, 'absent')
        when currency_code is null or length(currency_code) <> 3 then 'totalAmount has no ISO 4217 currency code'
        when {{ to_amount('total_text') }} is null then 'totalAmount is not a number: ' || coalesce(total_text, 'absent')
        when upper(transaction_status_raw) not in ({{ quoted(var('transaction_statuses')) }})
            then 'unknown transactionStatus: ' || transaction_status_raw
    end as quarantine_reason,
    raw_json
from latest
