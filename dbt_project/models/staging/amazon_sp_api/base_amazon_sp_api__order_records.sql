-- One row per order record in the window (v2026, or v0 mapped onto v2026's shape), parsed once: the reason it
-- cannot be typed (if any), its raw JSON when it cannot, and its typed values when it can. The staging views only
-- shape these columns into entities.
-- FSST string compression is off while this table is written: DuckDB analyses it for every string column, and
-- here, where it is rarely chosen, that cost ~1 s per million orders for 15% less space. The marts keep it.
{{ config(materialized="incremental", incremental_strategy="append",
          pre_hook=["{{ delete_window() }}", "set disabled_compression_methods = 'fsst'"],
          post_hook="reset disabled_compression_methods") }}

with v2026 as (
    select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json,
           json_transform(order_json, '{{ tojson(var("order_structure")) }}') as o,
           cast(null as varchar) as source_reason
    from {{ source('amazon_sp_api', 'order_records') }}
    where {{ in_window('partition_date') }} and api_version not in ('v0', 'report')
),

-- v0 records (an order with its items) are parsed with their own structure, mapped onto the v2026 shape
-- (macros/orders_v0.sql) and parsed as v2026, so both are typed and judged by the same code below. A branch of
-- its own, so that v2026 records pay nothing for it: row groups without v0 records are skipped by their zone maps.
v0 as (
    select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json,
           json_transform(order_json, '{{ tojson(var("order_structure_v0")) }}') as v0
    from {{ source('amazon_sp_api', 'order_records') }}
    where {{ in_window('partition_date') }} and api_version = 'v0'
),

-- Order tracking report records (the history path), mapped likewise (macros/orders_report.sql).
report as (
    select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json,
           json_transform(order_json, '{{ tojson(var("order_structure_report")) }}') as r
    from {{ source('amazon_sp_api', 'order_records') }}
    where {{ in_window('partition_date') }} and api_version = 'report'
),

records as (
    select * from v2026
    union all
    select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json,
           json_transform(cast(to_json({{ report_as_v2026('r') }}) as varchar),
                          '{{ tojson(var("order_structure")) }}') as o,
           {{ report_problem('r') }} as source_reason
    from report
    union all
    select account_id, partition_date, page_number, record_index, api_version, fetched_at, order_json,
           json_transform(cast(to_json({{ v0_as_v2026('v0') }}) as varchar),
                          '{{ tojson(var("order_structure")) }}') as o,
           {{ v0_problem('v0') }} as source_reason
    from v0
),

checked as (
    select
        *,
        nullif(o.orderId, '') as order_id,
        -- Typed once here, then judged below and kept.
        {{ to_utc('o.createdTime') }} as purchased_at,
        {{ to_utc('o.lastUpdatedTime') }} as last_updated_at,
        {{ to_amount('o.proceeds.grandTotal.amount') }} as order_total_amount,
        -- The first item that cannot be typed, in item order.
        list_filter(list_transform(o.orderItems, lambda i: case
            when i is null or nullif(i.orderItemId, '') is null then 'missing orderItemId'
            when not coalesce(regexp_full_match(i.quantityOrdered, '[0-9]+'), false)
                then 'quantityOrdered is not a whole number: ' || coalesce(i.quantityOrdered, 'null')
            -- Amazon documents one tax collection model; a new one decides who owes the tax, so it is judged.
            when list_filter(i.tax.taxCollections, lambda t: t.model <> 'MARKETPLACE_FACILITATOR') <> []
                then 'unknown tax collection model: ' || list_filter(i.tax.taxCollections,
                                                                     lambda t: t.model <> 'MARKETPLACE_FACILITATOR')[1].model
            else coalesce(
                {{ amount_problem('i.product.price.unitPrice.amount', 'unitPrice') }},
                {{ amount_problem('i.expense.pointsCost.pointsGranted.pointsMonetaryValue.amount', 'pointsMonetaryValue') }},
                {{ amount_problem('i.proceeds.proceedsTotal.amount', 'proceedsTotal') }},
                list_filter(list_transform(i.proceeds.breakdowns,
                                           lambda b: {{ amount_problem('b.subtotal.amount', 'proceeds breakdown') }}),
                            lambda r: r is not null)[1])
        end), lambda r: r is not null)[1] as item_reason,
        -- The first package that cannot be typed, in package order.
        list_filter(list_transform(o.packages, lambda p: case
            when nullif(p.packageReferenceId, '') is null then 'missing packageReferenceId'
            when p.packageStatus.status not in ({{ quoted(var('package_statuses')) }})
                then 'unknown package status: ' || p.packageStatus.status
            when p.packageStatus.detailedStatus not in ({{ quoted(var('package_detailed_statuses')) }})
                then 'unknown package detailedStatus: ' || p.packageStatus.detailedStatus
            when nullif(p.shipTime, '') is not null and {{ to_utc('p.shipTime') }} is null
                then 'unparseable package shipTime: ' || p.shipTime
            when list_filter(p.packageItems, lambda x: not coalesce(regexp_full_match(x.quantity, '[0-9]+'), false))
                 <> [] then 'package item quantity is not a whole number'
        end), lambda r: r is not null)[1] as package_reason
    from records
),

judged as (
    select
        *,
        case
            when order_id is null then 'missing orderId'
            when last_updated_at is null
                then 'unparseable lastUpdatedTime: ' || coalesce(o.lastUpdatedTime, 'null')
            when purchased_at is null
                then 'unparseable createdTime: ' || coalesce(o.createdTime, 'null')
            when o.fulfillment.fulfillmentStatus not in (
                'PENDING_AVAILABILITY', 'PENDING', 'UNSHIPPED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'CANCELLED',
                'UNFULFILLABLE')
                then 'unknown fulfillmentStatus: ' || o.fulfillment.fulfillmentStatus
            when o.fulfillment.fulfilledBy not in ('AMAZON', 'MERCHANT')
                then 'unknown fulfilledBy: ' || o.fulfillment.fulfilledBy
            when source_reason is not null then source_reason
            when nullif(o.proceeds.grandTotal.amount, '') is not null and order_total_amount is null
                then {{ amount_problem('o.proceeds.grandTotal.amount', 'grandTotal') }}
            when o.orderItems is null then 'missing orderItems'
            when item_reason is not null then item_reason
            when package_reason is not null then package_reason
            -- One order, one currency: a total and lines in different currencies cannot be summed or exported.
            when len(list_distinct(list_filter(
                    list_concat([o.proceeds.grandTotal.currencyCode],
                                list_transform(o.orderItems, lambda i: coalesce(i.proceeds.proceedsTotal.currencyCode,
                                                                              i.product.price.unitPrice.currencyCode))),
                    lambda c: nullif(c, '') is not null))) > 1
                then 'currencies disagree within the order: ' || o.proceeds.grandTotal.currencyCode || ' vs '
                     || array_to_string(list_distinct(list_transform(o.orderItems,
                            lambda i: coalesce(i.proceeds.proceedsTotal.currencyCode,
                                               i.product.price.unitPrice.currencyCode))), ', ')
        end as quarantine_reason
    from checked
)

select
    account_id,
    partition_date,
    page_number,
    record_index,
    api_version,
    fetched_at,
    order_id,
    quarantine_reason,
    -- The record as received, kept only where staging cannot use it.
    case when quarantine_reason is not null then order_json end as raw_json,
    -- Typed values: all casts are try_casts, because quarantined records pass through here too.
    nullif(o.salesChannel.marketplaceId, '') as marketplace_id,
    nullif(o.salesChannel.marketplaceName, '') as marketplace_name,
    nullif(o.salesChannel.channelName, '') as sales_channel,
    purchased_at,
    last_updated_at,
    nullif(o.fulfillment.fulfillmentStatus, '') as order_status,
    nullif(o.fulfillment.fulfilledBy, '') as fulfilled_by,
    nullif(o.fulfillment.fulfillmentServiceLevel, '') as fulfillment_service_level,
    coalesce(o.programs, []) as programs,
    order_total_amount,
    coalesce(
        nullif(o.proceeds.grandTotal.currencyCode, ''),
        nullif(o.orderItems[1].product.price.unitPrice.currencyCode, '')
    ) as currency_code,
    {{ to_utc('o.fulfillment.shipByWindow.earliestDateTime') }} as ship_by_earliest_at,
    {{ to_utc('o.fulfillment.shipByWindow.latestDateTime') }} as ship_by_latest_at,
    {{ to_utc('o.fulfillment.deliverByWindow.earliestDateTime') }} as deliver_by_earliest_at,
    {{ to_utc('o.fulfillment.deliverByWindow.latestDateTime') }} as deliver_by_latest_at,
    nullif(list_filter(o.orderAliases, lambda a: a.aliasType = 'SELLER_ORDER_ID')[1].aliasId, '') as seller_order_id,
    -- The payment methods, sorted and joined ('CashOnDelivery', 'CreditCard, PointsAccount'); NULL when none given.
    nullif(array_to_string(list_sort(list_distinct(list_filter(
        list_transform(o.payment.paymentExecutions, lambda p: p.paymentMethod), lambda m: m <> ''))), ', '), '')
        as payment_method,
    nullif(o.tax.taxInvoicing.buyerInvoicePreference, '') as buyer_invoice_preference,
    nullif(o.tax.taxInvoicing.invoiceStatus, '') as invoice_status,
    list_filter(list_transform(o.fulfillmentOrders, lambda f: f.fulfillmentOrderId), lambda f: f <> '')
        as fulfillment_order_ids,
    list_transform(o.tax.taxRegistrations, lambda r: {
        'entity_type': nullif(r.entityType, ''),
        'legal_name': nullif(r.legalName, ''),
        'registration_type': nullif(r.taxRegistrationType, ''),
        'registration_number': nullif(r.taxRegistrationNumber, ''),
        'city': nullif(r.taxRegistrationAddress.city, ''),
        'state_or_region': nullif(r.taxRegistrationAddress.stateOrRegion, ''),
        'postal_code': nullif(r.taxRegistrationAddress.postalCode, ''),
        'country_code': nullif(r.taxRegistrationAddress.countryCode, '')
    }) as tax_registrations,
    list_transform(o.packages, lambda p: {
        'package_reference_id': p.packageReferenceId,
        'created_at': {{ to_utc('p.createdTime') }},
        'shipped_at': {{ to_utc('p.shipTime') }},
        'status': nullif(p.packageStatus.status, ''),
        'detailed_status': nullif(p.packageStatus.detailedStatus, ''),
        'carrier': nullif(p.carrier, ''),
        'shipping_service': nullif(p.shippingService, ''),
        'tracking_number': nullif(p.trackingNumber, ''),
        'items': list_transform(p.packageItems, lambda x: {'order_item_id': x.orderItemId,
                                                          'quantity': try_cast(x.quantity as integer)})
    }) as packages,
    o.recipient.deliveryAddress as delivery_address,
    o.buyer as buyer,
    -- The order's item counts, here so that the orders mart need not read the items list back.
    len(o.orderItems) as line_count,
    list_sum(list_transform(o.orderItems, lambda i: try_cast(i.quantityOrdered as integer))) as quantity_ordered,
    list_sum(list_transform(o.orderItems, lambda i: coalesce(try_cast(i.fulfillment.quantityFulfilled as integer), 0)))
        as quantity_fulfilled,
    -- Amazon Points the order grants (JP), as the seller's cost.
    cast(list_sum(list_transform(o.orderItems, lambda i:
        {{ to_amount('i.expense.pointsCost.pointsGranted.pointsMonetaryValue.amount') }})) as {{ money_type() }})
        as points_cost_amount,
    list_transform(o.orderItems, lambda i: {
        'order_item_id': i.orderItemId,
        'sku': nullif(i.product.sellerSku, ''),
        'asin': nullif(i.product.asin, ''),
        'title': nullif(i.product.title, ''),
        'quantity_ordered': try_cast(i.quantityOrdered as integer),
        'quantity_fulfilled': try_cast(i.fulfillment.quantityFulfilled as integer),
        'unit_price_amount': {{ to_amount('i.product.price.unitPrice.amount') }},
        'item_proceeds_amount': {{ to_amount('i.proceeds.proceedsTotal.amount') }},
        'currency_code': coalesce(nullif(i.proceeds.proceedsTotal.currencyCode, ''),
                                  nullif(i.product.price.unitPrice.currencyCode, '')),
        'promotion_ids': list_transform(coalesce(i.promotion.breakdowns, []), lambda p: p.promotionId),
        'tax_collection_model': nullif(i.tax.taxCollections[1].model, ''),
        'tax_responsible_party': nullif(i.tax.taxCollections[1].responsibleParty, ''),
        'tax_reporting_scheme': nullif(i.tax.taxCalculationBreakdowns[1].reportingScheme, ''),
        'points_granted': try_cast(i.expense.pointsCost.pointsGranted.pointsNumber as integer),
        'points_cost_amount': {{ to_amount('i.expense.pointsCost.pointsGranted.pointsMonetaryValue.amount') }},
        'item_amount': {{ breakdown_sum('i', 'ITEM') }},
        'tax_amount': {{ breakdown_sum('i', 'TAX') }},
        'shipping_amount': {{ breakdown_sum('i', 'SHIPPING') }},
        'gift_wrap_amount': {{ breakdown_sum('i', 'GIFT_WRAP') }},
        'cod_fee_amount': {{ breakdown_sum('i', 'COD_FEE') }},
        'discount_amount': {{ breakdown_sum('i', 'DISCOUNT') }}
    }) as items
from judged
