{# Orders API v0 onto the v2026 shape. `v` is a v0 record parsed with var("order_structure_v0"); the result is a
   struct with order_structure's names, so that the base model types and judges v0 and v2026 records alike.
   - enums: OrderStatus Canceled -> CANCELLED, PartiallyShipped -> PARTIALLY_SHIPPED, InvoiceUnconfirmed (all
     shipped, invoice not yet confirmed) -> SHIPPED; FulfillmentChannel MFN/AFN -> MERCHANT/AMAZON;
   - Is* booleans (JSON booleans or "true"/"false" strings) -> programs;
   - money, as Amazon's v0 -> v2026 migration mapping (orders-api-migration-data.json) reads:
     - ItemPrice is the line total (ITEM); unit price = ItemPrice / QuantityOrdered;
     - ShippingPrice is SHIPPING; BuyerInfo.GiftWrapPrice is GIFT_WRAP;
     - PromotionDiscount is the whole DISCOUNT subtotal ("total of all promotional discounts"): ShippingDiscount is
       one of its details, so it is not subtracted again;
     - TAX is ItemTax + ShippingTax + BuyerInfo.GiftWrapTax - PromotionDiscountTax. PromotionDiscountTax is the tax
       on all promotional discounts; ShippingDiscountTax has no entry in the mapping and is its shipping part, so it
       is not subtracted again either;
     - COD_FEE is CODFee - CODFeeDiscount (the mapping names no v2026 field for CODFeeDiscount; a waived fee is no
       promotion, so we net it into the fee rather than into DISCOUNT; either way the proceeds are the same);
     - proceeds are the sum of those, so a line's proceeds and the order's OrderTotal reconcile (the totals check).
   - IsAccessPointOrder: the address type is PICKUP_POINT (v0's AddressType knows Residential and Commercial only).
   - payment, the buyer's tax registration, the items' tax collection and points: see each below. v0 has no
     packages: order_packages holds v2026 orders only.
   - InvoiceUnconfirmed has no v2026 status: every item has shipped and only the invoice is unconfirmed, so SHIPPED.
   Amounts that cannot be typed are judged by v0_problem under their v0 names, before any of this is read. #}

{% macro v0_amount(expr) -%}
    coalesce({{ to_amount(expr ~ '.Amount') }}, 0)
{%- endmacro %}

{# A line's net tax: on the item, shipping and gift wrap, less the tax on all its promotional discounts. #}
{% macro v0_tax(i) -%}
    ({{ v0_amount(i ~ '.ItemTax') }} + {{ v0_amount(i ~ '.ShippingTax') }} + {{ v0_amount(i ~ '.BuyerInfo.GiftWrapTax') }}
     - {{ v0_amount(i ~ '.PromotionDiscountTax') }})
{%- endmacro %}

{# One v2026 proceeds breakdown, or NULL when v0 gave no such amount (`present`). #}
{% macro v0_breakdown(type, present, amount, currency) -%}
    case when nullif({{ present }}, '') is not null then
        {'type': '{{ type }}', 'subtotal': {'amount': {{ amount }}, 'currencyCode': {{ currency }}}} end
{%- endmacro %}

{% macro v0_as_v2026(v) -%}
{
    'orderId': {{ v }}.order.AmazonOrderId,
    'createdTime': {{ v }}.order.PurchaseDate,
    'lastUpdatedTime': {{ v }}.order.LastUpdateDate,
    'programs': list_filter([
        case when {{ v }}.order.IsPrime = 'true' then 'PRIME' end,
        case when {{ v }}.order.IsBusinessOrder = 'true' then 'AMAZON_BUSINESS' end,
        case when {{ v }}.order.IsPremiumOrder = 'true' then 'PREMIUM' end,
        case when {{ v }}.order.OrderType = 'Preorder' then 'PREORDER' end], lambda p: p is not null),
    'orderAliases': case when nullif({{ v }}.order.SellerOrderId, '') is not null
                         then [{'aliasId': {{ v }}.order.SellerOrderId, 'aliasType': 'SELLER_ORDER_ID'}] end,
    'salesChannel': {
        'channelName': case when {{ v }}.order.SalesChannel = 'Non-Amazon' then 'NON_AMAZON'
                            when nullif({{ v }}.order.SalesChannel, '') is not null then 'AMAZON' end,
        'marketplaceId': {{ v }}.order.MarketplaceId,
        'marketplaceName': case when {{ v }}.order.SalesChannel <> 'Non-Amazon' then {{ v }}.order.SalesChannel end},
    'buyer': {'buyerName': {{ v }}.order.BuyerInfo.BuyerName, 'buyerEmail': {{ v }}.order.BuyerInfo.BuyerEmail},
    -- Payment: the COD sub-payments where v0 gives them, else the one method PaymentMethodDetails names for the
    -- whole total, once there is one (a Pending order has no money, as in v2026); "Standard" (a card, or anything
    -- else) names none, so v0 leaves payment_method NULL there.
    'payment': {'paymentExecutions': case
        when len({{ v }}.order.PaymentExecutionDetail) > 0 then list_transform({{ v }}.order.PaymentExecutionDetail,
            lambda p: {'paymentMethod': case p.PaymentMethod when 'COD' then 'CashOnDelivery' else p.PaymentMethod end,
                       'paymentAmount': {'amount': p.Payment.Amount, 'currencyCode': p.Payment.CurrencyCode}})
        when list_has_any({{ v }}.order.PaymentMethodDetails, ['CashOnDelivery', 'Invoice'])
             and nullif({{ v }}.order.OrderTotal.Amount, '') is not null then [{
            'paymentMethod': list_filter({{ v }}.order.PaymentMethodDetails,
                                         lambda d: d in ('CashOnDelivery', 'Invoice'))[1],
            'paymentAmount': {'amount': {{ v }}.order.OrderTotal.Amount,
                              'currencyCode': {{ v }}.order.OrderTotal.CurrencyCode}}] end},
    -- v0 has the buyer's registration only (restricted: an RDT for buyerTaxInformation), with no type.
    'tax': {'taxRegistrations': case when nullif({{ v }}.order.BuyerTaxInformation.BuyerTaxRegistrationId, '') is not null
        then [{'entityType': 'BUYER', 'legalName': {{ v }}.order.BuyerTaxInformation.BuyerLegalCompanyName,
               'taxRegistrationNumber': {{ v }}.order.BuyerTaxInformation.BuyerTaxRegistrationId}] end},
    'recipient': {'deliveryAddress': case when {{ v }}.order.ShippingAddress is not null then {
        'name': {{ v }}.order.ShippingAddress.Name,
        'companyName': {{ v }}.order.ShippingAddress.CompanyName,
        'addressLine1': {{ v }}.order.ShippingAddress.AddressLine1,
        'addressLine2': {{ v }}.order.ShippingAddress.AddressLine2,
        'addressLine3': {{ v }}.order.ShippingAddress.AddressLine3,
        'city': {{ v }}.order.ShippingAddress.City,
        'districtOrCounty': coalesce({{ v }}.order.ShippingAddress.County, {{ v }}.order.ShippingAddress.District),
        'stateOrRegion': {{ v }}.order.ShippingAddress.StateOrRegion,
        'municipality': {{ v }}.order.ShippingAddress.Municipality,
        'postalCode': {{ v }}.order.ShippingAddress.PostalCode,
        'countryCode': {{ v }}.order.ShippingAddress.CountryCode,
        'phone': {{ v }}.order.ShippingAddress.Phone,
        'addressType': case when {{ v }}.order.IsAccessPointOrder = 'true' then 'PICKUP_POINT'
                            else upper({{ v }}.order.ShippingAddress.AddressType) end} end},
    'proceeds': {'grandTotal': {'amount': {{ v }}.order.OrderTotal.Amount,
                                'currencyCode': {{ v }}.order.OrderTotal.CurrencyCode}},
    'fulfillment': {
        'fulfillmentStatus': case {{ v }}.order.OrderStatus
            when 'Pending' then 'PENDING' when 'PendingAvailability' then 'PENDING_AVAILABILITY'
            when 'Unshipped' then 'UNSHIPPED' when 'PartiallyShipped' then 'PARTIALLY_SHIPPED'
            when 'Shipped' then 'SHIPPED' when 'InvoiceUnconfirmed' then 'SHIPPED'
            when 'Canceled' then 'CANCELLED' when 'Unfulfillable' then 'UNFULFILLABLE'
            else {{ v }}.order.OrderStatus end,
        'fulfilledBy': case {{ v }}.order.FulfillmentChannel when 'MFN' then 'MERCHANT' when 'AFN' then 'AMAZON'
                            else {{ v }}.order.FulfillmentChannel end,
        -- Standard -> STANDARD, NextDay -> NEXT_DAY, FreeEconomy -> FREE_ECONOMY ...
        'fulfillmentServiceLevel': upper(regexp_replace({{ v }}.order.ShipmentServiceLevelCategory,
                                                        '([a-z])([A-Z])', '\1_\2', 'g')),
        'shipByWindow': {'earliestDateTime': {{ v }}.order.EarliestShipDate,
                         'latestDateTime': {{ v }}.order.LatestShipDate},
        'deliverByWindow': {'earliestDateTime': {{ v }}.order.EarliestDeliveryDate,
                            'latestDateTime': {{ v }}.order.LatestDeliveryDate}},
    'orderItems': list_transform({{ v }}.orderItems, lambda i: {
        'orderItemId': i.OrderItemId,
        'quantityOrdered': i.QuantityOrdered,
        'product': {
            'asin': i.ASIN, 'title': i.Title, 'sellerSku': i.SellerSKU,
            'price': {'unitPrice': {
                'amount': cast(cast({{ to_amount('i.ItemPrice.Amount') }}
                                    / nullif(try_cast(i.QuantityOrdered as integer), 0) as {{ money_type() }}) as varchar),
                'currencyCode': i.ItemPrice.CurrencyCode}}},
        'proceeds': {
            'proceedsTotal': {
                'amount': case when nullif(i.ItemPrice.Amount, '') is not null then cast(
                    {{ v0_amount('i.ItemPrice') }} + {{ v0_amount('i.ShippingPrice') }}
                    + {{ v0_amount('i.BuyerInfo.GiftWrapPrice') }}
                    + {{ v0_amount('i.CODFee') }} - {{ v0_amount('i.CODFeeDiscount') }}
                    + {{ v0_tax('i') }} - {{ v0_amount('i.PromotionDiscount') }} as varchar) end,
                'currencyCode': i.ItemPrice.CurrencyCode},
            'breakdowns': list_filter([
                {{ v0_breakdown('ITEM', 'i.ItemPrice.Amount', "i.ItemPrice.Amount", 'i.ItemPrice.CurrencyCode') }},
                {{ v0_breakdown('SHIPPING', 'i.ShippingPrice.Amount', "i.ShippingPrice.Amount",
                                'i.ShippingPrice.CurrencyCode') }},
                {{ v0_breakdown('GIFT_WRAP', 'i.BuyerInfo.GiftWrapPrice.Amount', "i.BuyerInfo.GiftWrapPrice.Amount",
                                'i.BuyerInfo.GiftWrapPrice.CurrencyCode') }},
                {{ v0_breakdown('COD_FEE', 'i.CODFee.Amount',
                                "cast(" ~ v0_amount('i.CODFee') ~ " - " ~ v0_amount('i.CODFeeDiscount') ~ " as varchar)",
                                'i.CODFee.CurrencyCode') }},
                {{ v0_breakdown('TAX', 'coalesce(i.ItemTax.Amount, i.ShippingTax.Amount, i.BuyerInfo.GiftWrapTax.Amount)',
                                "cast(" ~ v0_tax('i') ~ " as varchar)",
                                'coalesce(i.ItemTax.CurrencyCode, i.ShippingTax.CurrencyCode)') }},
                {{ v0_breakdown('DISCOUNT', 'i.PromotionDiscount.Amount',
                                "cast(-" ~ v0_amount('i.PromotionDiscount') ~ " as varchar)",
                                'i.PromotionDiscount.CurrencyCode') }}
            ], lambda b: b is not null)},
        'promotion': {'breakdowns': list_transform(i.PromotionIds, lambda p: {'promotionId': p})},
        'fulfillment': {'quantityFulfilled': i.QuantityShipped},
        -- TaxCollection.Model MarketplaceFacilitator is v2026's MARKETPLACE_FACILITATOR; DeemedResellerCategory
        -- (IOSS, UOSS) its reportingScheme.
        'tax': {
            'taxCollections': case when nullif(i.TaxCollection.Model, '') is not null then [{
                'model': case i.TaxCollection.Model when 'MarketplaceFacilitator' then 'MARKETPLACE_FACILITATOR'
                              else i.TaxCollection.Model end,
                'responsibleParty': i.TaxCollection.ResponsibleParty}] end,
            'taxCalculationBreakdowns': case when nullif(i.DeemedResellerCategory, '') is not null
                then [{'reportingScheme': i.DeemedResellerCategory}] end},
        'expense': {'pointsCost': {'pointsGranted': {
            'pointsNumber': i.PointsGranted.PointsNumber,
            'pointsMonetaryValue': {'amount': i.PointsGranted.PointsMonetaryValue.Amount,
                                    'currencyCode': i.PointsGranted.PointsMonetaryValue.CurrencyCode}}}}
    })
}
{%- endmacro %}

{# Why a v0 record's money cannot be typed, named as v0 names it; NULL when it can. #}
{% macro v0_problem(v) -%}
    coalesce(
        {{ amount_problem(v ~ '.order.OrderTotal.Amount', 'OrderTotal') }},
        list_filter(list_transform({{ v }}.orderItems, lambda i: coalesce(
            {%- for name in ['ItemPrice', 'ShippingPrice', 'ItemTax', 'ShippingTax', 'ShippingDiscount',
                             'ShippingDiscountTax', 'PromotionDiscount', 'PromotionDiscountTax', 'CODFee',
                             'CODFeeDiscount', 'BuyerInfo.GiftWrapPrice', 'BuyerInfo.GiftWrapTax'] %}
            {{ amount_problem('i.' ~ name ~ '.Amount', name.split('.')[-1]) }}{{ ',' if not loop.last }}
            {%- endfor %}
        )), lambda r: r is not null)[1]
    )
{%- endmacro %}
