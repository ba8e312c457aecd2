-- The key of the latest version of each order that changed in the run's window (every order, when the window is
-- all time): highest last_updated_at; on a tie the API's version over a report's (it has more fields), then the
-- later fetch, then the later partition, page and record.
-- Marts merge exactly these versions, so re-running any partition in any order converges on the same tables, and
-- a run reads only the versions of its own orders, however long the history.
with changed as (
    select distinct account_id, order_id
    from {{ ref('stg_amazon_sp_api__orders') }}
    where {{ in_window('partition_date') }}
),

latest as (
    -- A hash aggregate over the ordering key: cheaper than sorting every version with a window function.
    -- max, not arg_max(key, key): that was a quarter faster at 1M orders, but at 5M it ran out of dbt's 1 GB
    -- memory limit here, where max stays within it. The struct's fields are named: DuckDB 1.5.5 (the version the
    -- DuckLake extension wheels need) cannot index an unnamed struct that comes from a subquery.
    select account_id, order_id,
           max({'last_updated_at': last_updated_at, 'is_api': api_version <> 'report', 'fetched_at': fetched_at,
                'partition_date': partition_date, 'page_number': page_number, 'record_index': record_index})
               as version
    from {{ ref('stg_amazon_sp_api__orders') }}
    semi join changed using (account_id, order_id)
    group by account_id, order_id
)

select
    account_id,
    order_id,
    version.last_updated_at,
    version.fetched_at,
    version.partition_date,
    version.page_number,
    version.record_index
from latest
