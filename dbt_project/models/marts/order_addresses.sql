-- Where each order goes, from its latest version: one row per order. PII columns only when PII is on.
{{ config(unique_key=['account_id', 'order_id']) }}

select
    a.account_id,
    a.order_id,
    a.city,
    a.state_or_region,
    a.district_or_county,
    a.municipality,
    a.country_code,
    a.address_type,
    a.recipient_name,
    a.company_name,
    a.address_line1,
    a.address_line2,
    a.address_line3,
    a.postal_code,
    a.phone,
    a.buyer_name,
    a.buyer_email,
    a.last_updated_at,
    a.partition_date as last_changed_partition
from {{ ref('stg_amazon_sp_api__order_addresses') }} as a
semi join {{ ref('int_orders_latest') }} as l
    on a.account_id = l.account_id and a.order_id = l.order_id and a.partition_date = l.partition_date
   and a.page_number = l.page_number and a.record_index = l.record_index
