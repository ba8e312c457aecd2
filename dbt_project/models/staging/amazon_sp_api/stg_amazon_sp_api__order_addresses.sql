-- One row per order version with a delivery address. PII columns are NULL when the page was redacted.
{{ config(pre_hook="{{ delete_window() }}") }}

with records as (
    select * from ({{ typed_records() }})
    where json_type(order_json, '$.recipient.deliveryAddress') = 'OBJECT'
)

select
    account_id,
    partition_date,
    page_number,
    fetched_at,
    order_id,
    {{ to_utc("order_json ->> '$.lastUpdatedTime'") }} as last_updated_at,
    nullif(order_json ->> '$.recipient.deliveryAddress.city', '') as city,
    nullif(order_json ->> '$.recipient.deliveryAddress.stateOrRegion', '') as state_or_region,
    nullif(order_json ->> '$.recipient.deliveryAddress.districtOrCounty', '') as district_or_county,
    nullif(order_json ->> '$.recipient.deliveryAddress.municipality', '') as municipality,
    nullif(order_json ->> '$.recipient.deliveryAddress.countryCode', '') as country_code,
    nullif(order_json ->> '$.recipient.deliveryAddress.addressType', '') as address_type,
    nullif(order_json ->> '$.recipient.deliveryAddress.name', '') as recipient_name,
    nullif(order_json ->> '$.recipient.deliveryAddress.companyName', '') as company_name,
    nullif(order_json ->> '$.recipient.deliveryAddress.addressLine1', '') as address_line1,
    nullif(order_json ->> '$.recipient.deliveryAddress.addressLine2', '') as address_line2,
    nullif(order_json ->> '$.recipient.deliveryAddress.addressLine3', '') as address_line3,
    nullif(order_json ->> '$.recipient.deliveryAddress.postalCode', '') as postal_code,
    nullif(order_json ->> '$.recipient.deliveryAddress.phone', '') as phone,
    nullif(order_json ->> '$.buyer.buyerName', '') as buyer_name,
    nullif(order_json ->> '$.buyer.buyerEmail', '') as buyer_email
from records
