-- The latest version of each order: highest last_updated_at, ties broken by the latest fetch.
select *
from {{ ref('stg_amazon_sp_api__orders') }}
qualify row_number() over (
    partition by account_id, order_id
    order by last_updated_at desc, fetched_at desc, partition_date desc
) = 1
