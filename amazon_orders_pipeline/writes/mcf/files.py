"""The web shop's order files, as its webhook handler writes them: JSON Lines, one order per line, in the shape the
storefront sends (a customer with first and last name, email, phone and typed addresses; cart lines with SKU,
name, quantity and a price with currency, gross and net). A line with `"type": "cancellation"` and the order's
`id` asks to cancel it. Every line gets an outcome; a bad line never holds back the others.

    {"id": "1001", "createdAt": "2026-11-27T10:00:00Z", "shippingMethod": "express",
     "customer": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+1 206 555 0100",
                  "addresses": [{"type": "delivery", "street": "1 Main Street", "street2": "Apt 2",
                                 "postalCode": "98101", "city": "Seattle", "state": "WA", "country": "US"}]},
     "cart": [{"sku": "ECHO-DOT-5-CHARCOAL", "name": "Echo Dot", "quantity": 1,
               "price": {"currency": "USD", "gross": 49.99, "net": 46.29}}]}
    {"type": "cancellation", "id": "1001"}
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from amazon_orders_pipeline.writes.lines import LineError, LineOutcome, file_lines, json_object_line

ORDER, CANCELLATION = "order", "cancellation"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_LINES, MAX_UNITS = 100, 250  # Amazon's limits for one fulfillment order
DELIVERY_TYPES = ("delivery", "shipping")


@dataclass(frozen=True)
class CartLine:
    sku: str
    name: str
    quantity: int
    currency: str
    gross: Decimal  # per unit, as the shop charged it


@dataclass
class StorefrontRequest:
    kind: str
    shop_order_id: str
    line_number: int
    created_at: datetime | None = None
    shipping_method: str | None = None
    name: str = ""
    email: str | None = None
    phone: str | None = None
    address: dict = field(default_factory=dict)
    cart: list[CartLine] = field(default_factory=list)

    @property
    def seller_fulfillment_order_id(self) -> str:
        return seller_fulfillment_order_id(self.shop_order_id)


def seller_fulfillment_order_id(shop_order_id: str) -> str:
    """Amazon's id for the shop's order: the shop's id itself when it is at most 40 letters, digits, `-` and `_`
    (the characters Amazon reads back reliably), otherwise its safe part and a hash of the whole. Deterministic, so a
    retry can never make a second order."""
    if ID_RE.match(shop_order_id):
        return shop_order_id
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", shop_order_id)[:27].strip("-") or "order"
    return f"{safe}-{hashlib.sha256(shop_order_id.encode()).hexdigest()[:12]}"


def parse_orders(content: bytes) -> tuple[list[StorefrontRequest], list[LineOutcome]]:
    requests, outcomes = [], []
    for n, line, ended in file_lines(content):
        try:
            request = _request(json_object_line(line, ended), n)
        except LineError as e:
            outcomes.append(LineOutcome(n, "invalid", str(e)))
            continue
        requests.append(request)
        outcomes.append(LineOutcome(n, "accepted", request_id=request.shop_order_id))
    return requests, outcomes


def _request(data: dict, n: int) -> StorefrontRequest:
    shop_id = data.get("id")
    if not isinstance(shop_id, str | int) or not str(shop_id).strip():
        raise LineError("the order has no id")
    shop_id = str(shop_id).strip()
    kind = str(data.get("type") or ORDER).lower()
    if kind == CANCELLATION:
        return StorefrontRequest(CANCELLATION, shop_id, n)
    if kind != ORDER:
        raise LineError(f"type must be {ORDER!r} or {CANCELLATION!r}, got {kind!r}")
    customer = data.get("customer")
    if not isinstance(customer, dict):
        raise LineError("the order has no customer")
    name = " ".join(str(customer.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
    if not name:
        raise LineError("the customer has no name")
    address = _address(customer.get("addresses"), name, customer.get("phone"))
    cart = _cart(data.get("cart"))
    created = data.get("createdAt")
    try:
        created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
    except ValueError:
        raise LineError(f"createdAt {created!r} is not an ISO 8601 date-time") from None
    if created_at is not None and created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    email = customer.get("email") if isinstance(customer.get("email"), str) and customer["email"].strip() else None
    return StorefrontRequest(ORDER, shop_id, n, created_at=created_at,
                             shipping_method=str(data.get("shippingMethod") or "") or None, name=name[:50],
                             email=email, phone=str(customer.get("phone") or "") or None, address=address, cart=cart)


def _address(addresses, name: str, phone) -> dict:
    if not isinstance(addresses, list) or not addresses or not all(isinstance(a, dict) for a in addresses):
        raise LineError("the customer has no addresses")
    delivery = next((a for a in addresses if str(a.get("type") or "").lower() in DELIVERY_TYPES), addresses[0])
    country = str(delivery.get("country") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise LineError("the delivery address's country must be a two-letter ISO code, "
                        f"got {delivery.get('country')!r}")
    missing = [k for k in ("street", "postalCode") if not str(delivery.get(k) or "").strip()]
    if country != "JP" and not str(delivery.get("city") or "").strip():
        missing.append("city")
    if missing:
        raise LineError(f"the delivery address lacks {', '.join(missing)}")
    out = {"name": name[:50], "addressLine1": str(delivery["street"]).strip()[:60],
           "postalCode": str(delivery["postalCode"]).strip(), "countryCode": country}
    for key, field_name in (("street2", "addressLine2"), ("city", "city"), ("state", "stateOrRegion")):
        if str(delivery.get(key) or "").strip():
            out[field_name] = str(delivery[key]).strip()[:60]
    if phone and str(phone).strip():
        out["phone"] = str(phone).strip()[:20]
    return out


def _cart(cart) -> list[CartLine]:
    if not isinstance(cart, list) or not cart:
        raise LineError("the order has no cart lines")
    lines = []
    for line in cart:
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str) or not line["sku"].strip():
            raise LineError("each cart line needs a sku")
        quantity = line.get("quantity")
        if type(quantity) is not int or quantity < 1:
            raise LineError(f"quantity of {line['sku']} must be a whole number of at least 1")
        price = line.get("price") if isinstance(line.get("price"), dict) else {}
        currency = str(price.get("currency") or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise LineError(f"the price of {line['sku']} has no ISO 4217 currency")
        try:
            gross = Decimal(str(price.get("gross")))
        except InvalidOperation:
            raise LineError(f"the gross price of {line['sku']} is not a number") from None
        if not gross.is_finite() or gross < 0:
            raise LineError(f"the gross price of {line['sku']} is not a number")
        lines.append(CartLine(line["sku"].strip(), str(line.get("name") or ""), quantity, currency, gross))
    if len(lines) > MAX_LINES or sum(c.quantity for c in lines) > MAX_UNITS:
        raise LineError(f"more than Amazon takes in one fulfillment order ({MAX_LINES} lines, {MAX_UNITS} units)")
    return lines
