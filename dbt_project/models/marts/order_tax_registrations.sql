-- The tax registrations of each order's latest version: one row per (order_id, entity_type, registration_number).
-- The buyer's only when PII is on for the account (a sole trader's legal name and address name a person).
{{ config(unique_key=['account_id', 'order_id'], pre_hook="{{ delete_latest_orders() }}") }}

select
    r.account_id,
    r.order_id,
    r.entity_type,
    r.registration_type,
    r.registration_number,
    r.legal_name,
    r.city,
    r.state_or_region,
    r.postal_code,
    r.country_code,
    r.last_updated_at,
    r.partition_date as last_changed_partition
from {{ ref('stg_amazon_sp_api__order_tax_registrations') }} as r
{{ latest_versions_of('r') }}
