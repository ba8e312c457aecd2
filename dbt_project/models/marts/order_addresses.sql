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
{{ latest_versions_of('a') }}
