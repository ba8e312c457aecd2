{# An order tracking report's order record onto the v2026 shape. `r` is a record parsed with
   var("order_structure_report"); the result has order_structure's names, so the base model types and judges it like
   the API's records. The report's vocabulary (spapi-reports-notes, section 6):
   - order-status: Pending -> PENDING; Unshipped and "Pending - Waiting for Pick Up" -> UNSHIPPED; Shipping ->
     PARTIALLY_SHIPPED; Shipped and every "Shipped - ..." sub-state -> SHIPPED; Cancelled -> CANCELLED; anything else
     stays as it is and is quarantined as an unknown status;
   - fulfillment-channel Amazon/Merchant -> AMAZON/MERCHANT (anything else quarantined);
   - no marketplace id column: the id is looked up from sales-channel (report_marketplace_id);
   - money: item-price is the line total (ITEM), unit price = item-price / quantity; TAX is item-tax + shipping-tax
     + gift-wrap-tax; DISCOUNT is both promotion columns, whatever their sign (Amazon's sign is unverified); the
     report has no COD fee. A Pending order carries no money, as in the API (the report does give prices for some);
   - the order total is the sum of its lines' proceeds;
   - no order-item-id column (older headers): the line's id is its SKU, prefixed `sku:`. #}



{% macro report_amount(expr) -%}
    coalesce(abs({{ to_amount(expr) }}), 0)
{%- endmacro %}

{% macro report_line_total(l) -%}
    ({{ report_amount(l ~ '."item-price"') }} + {{ report_amount(l ~ '."shipping-price"') }}
     + {{ report_amount(l ~ '."gift-wrap-price"') }} + {{ report_tax(l) }} - {{ report_discount(l) }})
{%- endmacro %}

{% macro report_tax(l) -%}
    ({{ report_amount(l ~ '."item-tax"') }} + {{ report_amount(l ~ '."shipping-tax"') }}
     + {{ report_amount(l ~ '."gift-wrap-tax"') }})
{%- endmacro %}

{% macro report_discount(l) -%}
    ({{ report_amount(l ~ '."item-promotion-discount"') }} + {{ report_amount(l ~ '."ship-promotion-discount"') }})
{%- endmacro %}

{% macro report_as_v2026(r) -%}
{
    'orderId': {{ r }}."amazon-order-id",
    'createdTime': {{ r }}."purchase-date",
    'lastUpdatedTime': {{ r }}."last-updated-date",
    'programs': case when {{ r }}."is-business-order" = 'true' then ['AMAZON_BUSINESS'] else [] end,
    'orderAliases': case when nullif({{ r }}."merchant-order-id", '') is not null
                          and {{ r }}."merchant-order-id" <> {{ r }}."amazon-order-id"
                         then [{'aliasId': {{ r }}."merchant-order-id", 'aliasType': 'SELLER_ORDER_ID'}] end,
    'salesChannel': {
        'channelName': case when {{ r }}."sales-channel" = 'Non-Amazon' then 'NON_AMAZON'
                            when nullif({{ r }}."sales-channel", '') is not null then 'AMAZON' end,
        'marketplaceId': {{ report_marketplace_id(r ~ '."sales-channel"') }},
        'marketplaceName': case when {{ r }}."sales-channel" <> 'Non-Amazon' then {{ r }}."sales-channel" end},
    'recipient': {'deliveryAddress': {
        'city': {{ r }}."ship-city", 'stateOrRegion': {{ r }}."ship-state",
        'postalCode': {{ r }}."ship-postal-code", 'countryCode': {{ r }}."ship-country"}},
    'proceeds': {'grandTotal': case when {{ r }}."order-status" <> 'Pending'
                                     and list_bool_or(list_transform({{ r }}.lines, lambda l: l."item-price" <> ''))
        then {'amount': cast(list_sum(list_transform({{ r }}.lines, lambda l: {{ report_line_total('l') }})) as varchar),
              'currencyCode': list_filter(list_transform({{ r }}.lines, lambda l: nullif(l.currency, '')),
                                          lambda c: c is not null)[1]} end},
    'fulfillment': {
        'fulfillmentStatus': case
            when {{ r }}."order-status" = 'Pending' then 'PENDING'
            when {{ r }}."order-status" in ('Unshipped', 'Pending - Waiting for Pick Up') then 'UNSHIPPED'
            when {{ r }}."order-status" = 'Shipping' then 'PARTIALLY_SHIPPED'
            when {{ r }}."order-status" = 'Shipped' or starts_with({{ r }}."order-status", 'Shipped - ') then 'SHIPPED'
            when {{ r }}."order-status" = 'Cancelled' then 'CANCELLED'
            else {{ r }}."order-status" end,
        'fulfilledBy': case {{ r }}."fulfillment-channel" when 'Amazon' then 'AMAZON' when 'Merchant' then 'MERCHANT'
                            else {{ r }}."fulfillment-channel" end,
        'fulfillmentServiceLevel': upper(regexp_replace({{ r }}."ship-service-level", '([a-z])([A-Z])', '\1_\2', 'g'))},
    'orderItems': list_transform({{ r }}.lines, lambda l: {
        'orderItemId': coalesce(nullif(l."order-item-id", ''), 'sku:' || l.sku),
        'quantityOrdered': l.quantity,
        'product': {
            'asin': l.asin, 'title': l."product-name", 'sellerSku': l.sku,
            'price': case when {{ r }}."order-status" <> 'Pending' and l."item-price" <> '' then {'unitPrice': {
                'amount': cast(cast({{ to_amount('l."item-price"') }}
                                    / nullif(try_cast(l.quantity as integer), 0) as {{ money_type() }}) as varchar),
                'currencyCode': l.currency}} end},
        'proceeds': case when {{ r }}."order-status" <> 'Pending' and l."item-price" <> '' then {
            'proceedsTotal': {'amount': cast({{ report_line_total('l') }} as varchar), 'currencyCode': l.currency},
            'breakdowns': list_filter([
                {'type': 'ITEM', 'subtotal': {'amount': l."item-price", 'currencyCode': l.currency}},
                case when l."shipping-price" <> '' then
                    {'type': 'SHIPPING', 'subtotal': {'amount': l."shipping-price", 'currencyCode': l.currency}} end,
                case when l."gift-wrap-price" <> '' then
                    {'type': 'GIFT_WRAP', 'subtotal': {'amount': l."gift-wrap-price", 'currencyCode': l.currency}} end,
                {'type': 'TAX', 'subtotal': {'amount': cast({{ report_tax('l') }} as varchar),
                                             'currencyCode': l.currency}},
                case when {{ report_discount('l') }} <> 0 then
                    {'type': 'DISCOUNT', 'subtotal': {'amount': cast(-{{ report_discount('l') }} as varchar),
                                                      'currencyCode': l.currency}} end
            ], lambda b: b is not null)} end,
        'promotion': {'breakdowns': list_transform(
            list_filter(string_split(coalesce(l."promotion-ids", ''), ','), lambda p: trim(p) <> ''),
            lambda p: {'promotionId': trim(p)})},
        'fulfillment': {'quantityFulfilled': case when l."item-status" = 'Shipped' then l.quantity else '0' end}
    })
}
{%- endmacro %}

{# Why a report record's money cannot be typed, named as the report names it; NULL when it can. #}
{% macro report_problem(r) -%}
    list_filter(list_transform({{ r }}.lines, lambda l: coalesce(
        {%- for name in ['item-price', 'item-tax', 'shipping-price', 'shipping-tax', 'gift-wrap-price', 'gift-wrap-tax',
                         'item-promotion-discount', 'ship-promotion-discount'] %}
        {{ amount_problem('l."' ~ name ~ '"', name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    )), lambda p: p is not null)[1]
{%- endmacro %}
