"""The synthetic seller's orders as Orders v0 speaks them: PascalCase, v0 enums, line-total ItemPrice, RDT PII."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.order_sections import RESPONSIBLE_PARTY
from amazon_orders_pipeline.emulator.orders import GIFT_MESSAGE, GIFT_WRAP_LEVEL, OrderHistory, iso

# v2026 fulfillmentStatus -> v0 OrderStatus, and fulfilledBy -> FulfillmentChannel (Amazon's migration guide).
V0_STATUS = {
    "PENDING": "Pending", "PENDING_AVAILABILITY": "PendingAvailability", "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
V0_CHANNEL = {"AMAZON": "AFN", "MERCHANT": "MFN"}
# v2026 paymentMethod -> v0 PaymentMethodDetails; a card is v0's "Standard".
V0_PAYMENT_DETAIL = {"CashOnDelivery": "CashOnDelivery", "Invoice": "Invoice"}
# The model: ShippingAddress comes back for these statuses only.
ADDRESS_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")


def _money(amount: Decimal, currency: str) -> dict:
    return {"CurrencyCode": currency, "Amount": str(amount)}


def _tax_on(amount: Decimal, rate: Decimal, digits: int) -> Decimal:
    return (amount * rate).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def shipping_address(history: OrderHistory, restricted: bool) -> dict:
    """Without an RDT: city, region, postal code and country. With one, the rest (Phone is never given for AFN)."""
    a = history.address
    out = {"City": a["city"], "StateOrRegion": a["stateOrRegion"], "PostalCode": a["postalCode"],
           "CountryCode": a["countryCode"]}
    if restricted:
        # v0 knows Residential and Commercial only; an access point (a locker, a counter) is a commercial address,
        # and IsAccessPointOrder says it is one.
        out.update({"Name": a["name"], "AddressLine1": a["addressLine1"],
                    "AddressType": "Commercial" if history.access_point else a["addressType"].title()})
        if history.fulfilled_by == "MERCHANT":
            out["Phone"] = a["phone"]
    return out


def v0_order(history: OrderHistory, as_of: datetime, data_elements: frozenset[str] = frozenset()) -> dict | None:
    """One getOrders `Order` as of a moment, with ShippingAddress / BuyerInfo PII only where an RDT grants it."""
    state = history.state_as_of(as_of)
    if state is None:
        return None
    updated_at, status = state
    name, currency, _, _, _, _, _ = MARKETPLACES[history.marketplace_id]
    quantity = sum(line.quantity for line in history.lines)
    shipped = sum(history.shipped_quantity(line, status, as_of) for line in history.lines)
    cod = any(line.cod_fee for line in history.lines)
    order: dict = {
        "AmazonOrderId": history.order_id,
        "PurchaseDate": iso(history.created_at),
        "LastUpdateDate": iso(updated_at),
        "OrderStatus": V0_STATUS[status],
        "FulfillmentChannel": V0_CHANNEL[history.fulfilled_by],
        "SalesChannel": name if history.sales_channel == "AMAZON" else "Non-Amazon",
        "ShipServiceLevel": "Std Dom",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": quantity - shipped,
        "PaymentMethod": "COD" if cod else "Other",
        "PaymentMethodDetails": [V0_PAYMENT_DETAIL.get(history.sections.payment_method, "Standard")],
        "MarketplaceId": history.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "IsBusinessOrder": "AMAZON_BUSINESS" in history.programs,
        "IsPrime": "PRIME" in history.programs,
        "IsPremiumOrder": "PREMIUM" in history.programs,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": history.access_point,
    }
    if history.had_money(as_of):
        total = sum((line.proceeds_total for line in history.lines), Decimal(0))
        order["OrderTotal"] = _money(total, currency)
        if cod:  # "sub-payment methods for a Cash On Delivery (COD) order"
            order["PaymentExecutionDetail"] = [{"Payment": _money(total, currency), "PaymentMethod": "COD"}]
    if history.fulfilled_by == "MERCHANT":  # ship and delivery dates are seller-fulfilled only
        order["EarliestShipDate"] = iso(history.created_at)
        order["LatestShipDate"] = iso(history.created_at + timedelta(days=2))
        order["EarliestDeliveryDate"] = iso(history.created_at + timedelta(days=3))
        if status not in ("PENDING", "PENDING_AVAILABILITY", "CANCELLED"):
            order["LatestDeliveryDate"] = iso(history.created_at + timedelta(days=6))
    if status in ADDRESS_STATUSES:
        order["ShippingAddress"] = shipping_address(history, "shippingAddress" in data_elements)
    registration = history.sections.buyer_registration
    if registration and "buyerTaxInformation" in data_elements:
        # The model documents it for TR; the emulator gives it for every business order, so that v0 fills the
        # same registration columns as v2026's tax section (the type is not part of it).
        order["BuyerTaxInformation"] = {"BuyerLegalCompanyName": registration[0],
                                        "BuyerTaxRegistrationId": registration[2]}
    if "buyerInfo" in data_elements:
        buyer = {"BuyerName": history.buyer_name}
        if history.fulfilled_by == "MERCHANT" and status in ADDRESS_STATUSES:
            buyer["BuyerEmail"] = history.buyer_email
        order["BuyerInfo"] = buyer
    return order


def v0_items(history: OrderHistory, as_of: datetime, data_elements: frozenset[str] = frozenset()) -> list[dict] | None:
    """getOrderItems' `OrderItems`: ItemPrice is the line total; Pending orders carry no money at all. The money
    follows Amazon's v0 -> v2026 mapping read backwards: PromotionDiscount is every promotional discount of the line
    (v2026's DISCOUNT), with ShippingDiscount one of its parts, and PromotionDiscountTax the tax on all of them, with
    ShippingDiscountTax one of its parts; gift wrap and its tax sit in the item's BuyerInfo, whose gift message only an
    RDT for buyerInfo brings."""
    state = history.state_as_of(as_of)
    if state is None:
        return None
    status = state[1]
    _, currency, digits, country, rate, _, _ = MARKETPLACES[history.marketplace_id]
    has_money = history.had_money(as_of)
    sections = history.sections
    items = []
    for n, line in enumerate(history.lines):
        item: dict = {
            "ASIN": line.asin,
            "SellerSKU": line.sku,
            "OrderItemId": line.order_item_id,
            "Title": line.title,
            "QuantityOrdered": line.quantity,
            "QuantityShipped": history.shipped_quantity(line, status, as_of),
            "ProductInfo": {"NumberOfItems": "1"},
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
        if has_money:
            # The line's tax split as v0 reports it:
            # net tax = ItemTax + ShippingTax + GiftWrapTax - PromotionDiscountTax.
            shipping_tax = _tax_on(line.shipping, rate, digits)
            gift_wrap_tax = _tax_on(line.gift_wrap, rate, digits)
            discount_tax = _tax_on(line.discounts, rate, digits)
            item["ItemPrice"] = _money(line.item_amount, currency)
            item["ItemTax"] = _money(line.tax - shipping_tax - gift_wrap_tax + discount_tax, currency)
            if line.shipping:
                item["ShippingPrice"] = _money(line.shipping, currency)
                item["ShippingTax"] = _money(shipping_tax, currency)
            if line.shipping_discount:
                item["ShippingDiscount"] = _money(line.shipping_discount, currency)
                item["ShippingDiscountTax"] = _money(_tax_on(line.shipping_discount, rate, digits), currency)
            if line.discounts:
                item["PromotionDiscount"] = _money(line.discounts, currency)
                item["PromotionDiscountTax"] = _money(discount_tax, currency)
            if line.cod_fee:
                item["CODFee"] = _money(line.cod_fee, currency)
                item["CODFeeDiscount"] = _money(line.cod_fee_discount, currency)
            if line.gift_wrap:
                item["BuyerInfo"] = {"GiftWrapPrice": _money(line.gift_wrap, currency),
                                     "GiftWrapTax": _money(gift_wrap_tax, currency), "GiftWrapLevel": GIFT_WRAP_LEVEL}
                if "buyerInfo" in data_elements:
                    item["BuyerInfo"]["GiftMessageText"] = GIFT_MESSAGE
        # v0's model knows one responsible party, Amazon's US entity: elsewhere v0 cannot say that Amazon collects
        # the tax (only DeemedResellerCategory hints at it, for IOSS and UOSS).
        if sections.tax_collection and country == "US":
            item["TaxCollection"] = {"Model": "MarketplaceFacilitator", "ResponsibleParty": RESPONSIBLE_PARTY[country]}
        if sections.reporting_scheme:
            item["DeemedResellerCategory"] = sections.reporting_scheme
        points = sections.points_of(n)
        if has_money and points:
            item["PointsGranted"] = {"PointsNumber": points, "PointsMonetaryValue": _money(Decimal(points), currency)}
        if line.gift_wrap:
            item["IsGift"] = "true"
        if line.promotion_ids:
            item["PromotionIds"] = list(line.promotion_ids)
        if status == "CANCELLED":
            item["BuyerRequestedCancel"] = {"IsBuyerRequestedCancel": "true", "BuyerCancelReason": "Ordered by mistake"}
        items.append(item)
    return items
