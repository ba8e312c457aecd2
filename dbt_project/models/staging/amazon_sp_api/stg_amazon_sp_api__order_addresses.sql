-- One row per order version with a delivery address. PII columns are NULL when the page was redacted.
with records as (
    select *, delivery_address as a
    from ({{ typed_records() }})
    where delivery_address is not null
)

select
    {{ version_columns() }},
    nullif(a.city, '') as city,
    nullif(a.stateOrRegion, '') as state_or_region,
    nullif(a.districtOrCounty, '') as district_or_county,
    nullif(a.municipality, '') as municipality,
    nullif(a.countryCode, '') as country_code,
    nullif(a.addressType, '') as address_type,
    nullif(a.name, '') as recipient_name,
    nullif(a.companyName, '') as company_name,
    nullif(a.addressLine1, '') as address_line1,
    nullif(a.addressLine2, '') as address_line2,
    nullif(a.addressLine3, '') as address_line3,
    nullif(a.postalCode, '') as postal_code,
    nullif(a.phone, '') as phone,
    nullif(buyer.buyerName, '') as buyer_name,
    nullif(buyer.buyerEmail, '') as buyer_email
from records
