"""The emulator's synthetic seller: deterministic orders and their status histories, a function of the seed."""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

# marketplace id -> (name, currency, minor-unit digits, country, tax rate, price factor vs USD, id prefix)
MARKETPLACES: dict[str, tuple[str, str, int, str, Decimal, Decimal, str]] = {
    "ATVPDKIKX0DER": ("Amazon.com", "USD", 2, "US", Decimal("0.08"), Decimal("1"), "114"),
    "A1F83G8C2ARO7P": ("Amazon.co.uk", "GBP", 2, "GB", Decimal("0.20"), Decimal("0.8"), "202"),
    "A1PA6795UKMFR9": ("Amazon.de", "EUR", 2, "DE", Decimal("0.19"), Decimal("0.92"), "302"),
    "A1VC38T7YXB528": ("Amazon.co.jp", "JPY", 0, "JP", Decimal("0.10"), Decimal("150"), "250"),
}

# sku, asin, title, base price in USD
CATALOGUE: list[tuple[str, str, str, Decimal]] = [
    ("ECHO-DOT-5-CHARCOAL", "B09B8V1LZ3", "Echo Dot (5th Gen) smart speaker, Charcoal", Decimal("49.99")),
    ("FIRE-TV-4K-MAX", "B0BP9SNVH9", "Fire TV Stick 4K Max streaming device", Decimal("59.99")),
    ("KINDLE-PW-16GB", "B08KTZ8249", "Kindle Paperwhite 16 GB", Decimal("149.99")),
    ("USB-C-CABLE-2M", "B07THHQMHM", "USB-C to USB-C cable, 2 m, braided", Decimal("12.49")),
    ("YOGA-MAT-6MM", "B01LP0U5X0", "Yoga mat 6 mm, non-slip", Decimal("24.95")),
    ("COFFEE-BEANS-1KG", "B07Q2QF3K8", "Whole coffee beans, medium roast, 1 kg", Decimal("19.90")),
    ("LED-DESK-LAMP", "B073QN4JB8", "LED desk lamp with USB charging port", Decimal("32.00")),
    ("WATER-BOTTLE-750", "B083GBKQ1Y", "Insulated water bottle 750 ml", Decimal("21.99")),
    ("NOTEBOOK-A5-DOT", "B0196FK2CY", "A5 dotted notebook, hardcover", Decimal("9.99")),
    ("HDMI-SWITCH-3P", "B01N6M5B3A", "HDMI switch, 3 ports, 4K", Decimal("17.45")),
    ("PHONE-STAND-ALU", "B07F8S18D5", "Aluminium phone stand", Decimal("13.99")),
    ("GARDEN-GLOVES-L", "B00BFH3M6G", "Garden gloves, size L, 3 pairs", Decimal("11.50")),
]

# Titles as the marketplace shows them, where they differ from the catalogue's: characters each region's report
# encoding must carry (cp932 for JP; Cp1252's £, €, ß and dashes for the UK and DE).
LOCAL_TITLES: dict[tuple[str, str], str] = {
    ("JP", "ECHO-DOT-5-CHARCOAL"): "Echo Dot (第5世代) スマートスピーカー チャコール",
    ("JP", "FIRE-TV-4K-MAX"): "Fire TV Stick 4K Max ストリーミングメディアプレーヤー",
    ("JP", "KINDLE-PW-16GB"): "Kindle Paperwhite 16GB 電子書籍リーダー",
    ("JP", "COFFEE-BEANS-1KG"): "コーヒー豆 中煎り 1kg",
    ("JP", "YOGA-MAT-6MM"): "ヨガマット 6mm 滑り止め",
    ("DE", "GARDEN-GLOVES-L"): "Gartenhandschuhe, Größe L, 3 Paar",
    ("DE", "COFFEE-BEANS-1KG"): "Kaffeebohnen, mittlere Röstung, 1 kg – Vorteilspack",
    ("DE", "LED-DESK-LAMP"): "LED-Schreibtischlampe mit USB-Ladeanschluss (Stromkosten unter 2 € im Jahr)",
    ("GB", "NOTEBOOK-A5-DOT"): "A5 dotted notebook, hardcover – £1 from each sale to charity",
    ("GB", "WATER-BOTTLE-750"): "Insulated water bottle 750 ml — keeps drinks cold for 24 hours",
}

FIRST_NAMES = ["Alex", "Maria", "Kenji", "Sarah", "Jonas", "Aiko", "Carlos", "Emma", "Luca", "Priya"]
LAST_NAMES = ["Smith", "Schmidt", "Tanaka", "Thompson", "Garcia", "Rossi", "Novak", "Sato", "Brown", "Ivanova"]
CITIES = {
    "US": [("Seattle", "WA", "98101"), ("Austin", "TX", "73301"), ("Boston", "MA", "02108")],
    "GB": [("London", "England", "SW1A 1AA"), ("Leeds", "England", "LS1 4AP"), ("Cardiff", "Wales", "CF10 1EP")],
    "DE": [("Berlin", "Berlin", "10115"), ("Munich", "Bavaria", "80331"), ("Hamburg", "Hamburg", "20095")],
    "JP": [("Tokyo", "Tokyo", "150-0002"), ("Osaka", "Osaka", "530-0001"), ("Sapporo", "Hokkaido", "060-0001")],
}
STREETS = ["Main Street", "Oak Avenue", "Hauptstrasse", "Sakura-dori", "High Street", "Lindenweg"]

# The longest an order keeps changing after it was created: windows look back this far for candidates.
MAX_ORDER_LIFETIME = timedelta(days=5)


def seller_tag(seller: str) -> int:
    """The two digits that set a seller's order ids apart from another's on the same day (so 100 sellers at most
    can share a warehouse without two of them having the same order id)."""
    return int.from_bytes(hashlib.sha256(seller.encode()).digest()[:2], "big") % 100


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(amount), "currencyCode": currency}


@dataclass(frozen=True)
class Line:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    tax: Decimal  # all of the line's tax, net of the tax on its discounts
    discount: Decimal  # the item promotion, a positive number; served within a negative DISCOUNT subtotal
    promotion_ids: tuple[str, ...] = ()
    shipping_discount: Decimal = Decimal(0)  # a shipping promotion (free shipping), also within DISCOUNT
    gift_wrap: Decimal = Decimal(0)
    cod_fee: Decimal = Decimal(0)  # cash on delivery (JP only)
    cod_fee_discount: Decimal = Decimal(0)  # a COD fee waived

    @property
    def item_amount(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def discounts(self) -> Decimal:
        """Every promotional discount of the line (Amazon's DISCOUNT subtotal, v0's PromotionDiscount)."""
        return self.discount + self.shipping_discount

    @property
    def proceeds_total(self) -> Decimal:
        return (self.item_amount + self.shipping + self.gift_wrap + self.cod_fee - self.cod_fee_discount + self.tax
                - self.discounts)


@dataclass(frozen=True)
class Package:
    """A package the seller confirmed as shipped (confirmShipment): its items and quantities from `shipped_at`."""

    reference_id: str
    shipped_at: datetime
    carrier_code: str
    tracking_number: str
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)


@dataclass(frozen=True)
class OrderHistory:
    """One order from creation to its last change: the emulator answers any query from these."""

    order_id: str
    seller: str
    marketplace_id: str
    created_at: datetime
    fulfilled_by: str  # AMAZON | MERCHANT
    events: tuple[tuple[datetime, str], ...]  # (time, fulfillmentStatus), ascending; the first is creation
    lines: tuple[Line, ...]
    programs: tuple[str, ...]
    buyer_name: str
    buyer_email: str
    address: dict = field(hash=False, compare=False)
    access_point: bool = False  # delivered to an Amazon Hub locker or counter, or a carrier's pickup point
    packages: tuple[Package, ...] = ()  # confirmed by the seller; empty for the generated histories
    sales_channel: str = "AMAZON"  # NON_AMAZON: a Multi-Channel Fulfillment order (emulator/fulfillment.py)

    def shipped_quantity(self, line: Line, status: str, as_of: datetime) -> int:
        """The units of a line shipped as of a moment: the seller's confirmed packages where there are any, else
        all of them once the (generated) order is SHIPPED."""
        if self.packages:
            return sum(q for p in self.packages if p.shipped_at <= as_of
                       for item_id, q in p.items if item_id == line.order_item_id)
        return line.quantity if status == "SHIPPED" else 0

    def state_as_of(self, as_of: datetime) -> tuple[datetime, str] | None:
        """(lastUpdatedTime, status) as of a moment, or None if the order does not exist yet."""
        current = None
        for ts, status in self.events:
            if ts > as_of:
                break
            current = (ts, status)
        return current

    def had_money(self, as_of: datetime) -> bool:
        """Pending orders carry no money; once past Pending they do, even if cancelled later."""
        return any(s not in ("PENDING", "PENDING_AVAILABILITY", "CANCELLED") for t, s in self.events if t <= as_of)

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.marketplace_id][1]

    def to_api(self, as_of: datetime) -> dict | None:
        """The full v2026 Order (every includedData section) as of a moment."""
        state = self.state_as_of(as_of)
        if state is None:
            return None
        updated_at, status = state
        name, currency, _, _, _, _, _ = MARKETPLACES[self.marketplace_id]
        has_money = self.had_money(as_of)
        items = []
        for line in self.lines:
            fulfilled = self.shipped_quantity(line, status, as_of)
            item: dict = {
                "orderItemId": line.order_item_id,
                "quantityOrdered": line.quantity,
                "product": {
                    "asin": line.asin,
                    "title": line.title,
                    "sellerSku": line.sku,
                    "condition": {"conditionType": "NEW", "conditionSubtype": "NEW", "conditionNote": ""},
                },
                "fulfillment": {
                    "quantityFulfilled": fulfilled,
                    "quantityUnfulfilled": line.quantity - fulfilled,
                },
            }
            if has_money:
                item["product"]["price"] = {"unitPrice": money(line.unit_price, currency)}
                item["proceeds"] = {"proceedsTotal": money(line.proceeds_total, currency),
                                    "breakdowns": proceeds_breakdowns(line, currency)}
            if line.gift_wrap:
                item["fulfillment"]["packing"] = {"giftOption": {"giftWrapLevel": GIFT_WRAP_LEVEL,
                                                                 "giftMessage": GIFT_MESSAGE}}
            if line.promotion_ids:
                item["promotion"] = {"breakdowns": [{"promotionId": p} for p in line.promotion_ids]}
            if status == "CANCELLED":
                item["cancellation"] = {
                    "cancellationExecution": {"cancelledBy": "BUYER", "cancelReason": "Ordered by mistake"}
                }
            items.append(item)
        order: dict = {
            "orderId": self.order_id,
            "createdTime": iso(self.created_at),
            "lastUpdatedTime": iso(updated_at),
            "programs": list(self.programs),
            "salesChannel": {"channelName": self.sales_channel, "marketplaceId": self.marketplace_id,
                             **({"marketplaceName": name} if self.sales_channel == "AMAZON" else {})},
            "buyer": {"buyerName": self.buyer_name},
            "recipient": {"deliveryAddress": {**self.address, "addressType": "PICKUP_POINT"} if self.access_point
                          else dict(self.address)},
            "fulfillment": {
                "fulfillmentStatus": status,
                "fulfilledBy": self.fulfilled_by,
                "fulfillmentServiceLevel": "STANDARD",
                "shipByWindow": {
                    "earliestDateTime": iso(self.created_at),
                    "latestDateTime": iso(self.created_at + timedelta(days=2)),
                },
                "deliverByWindow": {
                    "earliestDateTime": iso(self.created_at + timedelta(days=3)),
                    "latestDateTime": iso(self.created_at + timedelta(days=6)),
                },
            },
            "orderItems": items,
        }
        # Buyer email: FBM orders past Pending only, as Amazon documents.
        if self.fulfilled_by == "MERCHANT" and status in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"):
            order["buyer"]["buyerEmail"] = self.buyer_email
        if has_money:
            total = sum((line.proceeds_total for line in self.lines), Decimal(0))
            order["proceeds"] = {"grandTotal": money(total, currency)}
        return order


GIFT_WRAP_LEVEL = "Classic"
GIFT_MESSAGE = "Happy birthday!"


def proceeds_breakdowns(line: Line, currency: str) -> list[dict]:
    """An item's proceeds by type, as v2026 gives them; they add up to its proceedsTotal. DISCOUNT is every
    promotional discount of the line, its item and shipping parts as details."""
    out = [{"type": "ITEM", "subtotal": money(line.item_amount, currency)}]
    if line.shipping:
        out.append({"type": "SHIPPING", "subtotal": money(line.shipping, currency)})
    if line.gift_wrap:
        out.append({"type": "GIFT_WRAP", "subtotal": money(line.gift_wrap, currency)})
    if line.cod_fee:
        # Net of a waived fee: a waiver is not a promotion (v0 keeps it apart, as CODFeeDiscount).
        out.append({"type": "COD_FEE", "subtotal": money(line.cod_fee - line.cod_fee_discount, currency)})
    out.append({"type": "TAX", "subtotal": money(line.tax, currency)})
    if line.discounts:
        details = [{"subtype": subtype, "value": money(-amount, currency)}
                   for subtype, amount in (("ITEM", line.discount), ("SHIPPING", line.shipping_discount)) if amount]
        out.append({"type": "DISCOUNT", "subtotal": money(-line.discounts, currency), "detailedBreakdowns": details})
    return out


# Sections of an Order that only come back when `includedData` names them.
INCLUDED_SECTIONS = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
}
ITEM_SECTIONS = {"PROCEEDS": "proceeds", "PROMOTION": "promotion", "CANCELLATION": "cancellation"}


def filter_included(order: dict, included: set[str]) -> dict:
    """Drop the sections a request did not ask for; 'basic information' always stays."""
    out = dict(order)
    for key, sections in INCLUDED_SECTIONS.items():
        if key not in included:
            for s in sections:
                out.pop(s, None)
    items = []
    for item in order["orderItems"]:
        item = dict(item)
        for key, section in ITEM_SECTIONS.items():
            if key not in included:
                item.pop(section, None)
        if "FULFILLMENT" not in included:
            item.pop("fulfillment", None)
        items.append(item)
    out["orderItems"] = items
    return out


def _round(amount: Decimal, digits: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _money_cases(lines: list[Line], rng: random.Random, marketplace_id: str, fulfilled_by: str,
                 year: int) -> list[Line]:
    """Free-shipping promotions (seller-fulfilled orders, sometimes beside an item promotion), gift wrap, and cash on
    delivery in JP (sometimes with the fee waived). The tax is then on the item, shipping and gift wrap less the
    discounts; the COD fee is untaxed here."""
    _, _, digits, country, tax_rate, factor, _ = MARKETPLACES[marketplace_id]
    free_shipping = fulfilled_by == "MERCHANT" and rng.random() < 0.2
    cod = country == "JP" and fulfilled_by == "MERCHANT" and rng.random() < 0.3
    cod_waived = cod and rng.random() < 0.3
    out = []
    for n, line in enumerate(lines):
        shipping_discount = line.shipping if free_shipping else Decimal(0)
        gift_wrap = _round(Decimal("3.99") * factor, digits) if rng.random() < 0.06 else Decimal(0)
        cod_fee = _round(Decimal("2.20") * factor, digits) if cod and n == 0 else Decimal(0)
        tax = _round((line.item_amount + line.shipping + gift_wrap - line.discount - shipping_discount) * tax_rate,
                     digits)
        out.append(replace(
            line, tax=tax, shipping_discount=shipping_discount, gift_wrap=gift_wrap, cod_fee=cod_fee,
            cod_fee_discount=cod_fee if cod_waived else Decimal(0),
            promotion_ids=line.promotion_ids + ((f"FREESHIP-{year}",) if shipping_discount else ())))
    return out


class SyntheticSeller:
    """Orders of every seller, generated per (seller, creation day) and cached."""

    def __init__(self, seed: int = 42, orders_per_day: int = 400, cache_days: int = 64):
        self.seed = seed
        self.orders_per_day = orders_per_day
        self._cache: OrderedDict[tuple[str, date], list[OrderHistory]] = OrderedDict()
        self._cache_days = cache_days
        # Histories the seller's own actions changed (a shipment confirmed, an order cancelled by feed), by
        # (seller, creation day, order id): they replace the generated ones, also after a day leaves the cache.
        self._overrides: dict[tuple[str, date], dict[str, OrderHistory]] = {}
        self._added: dict[tuple[str, date], list[str]] = {}  # orders added to a day, in order

    def add(self, seller: str, day: date, make) -> OrderHistory:
        """A new order of a seller created on `day` (a Multi-Channel Fulfillment order): `make(index)` builds it
        from its index in the day, which its id must end in (find_order looks orders up by it). Kept like an
        override, so it survives the day leaving the cache (the caller holds the emulator's lock)."""
        orders = self.orders_created_on(seller, day)
        history = make(len(orders))
        self._overrides.setdefault((seller, day), {})[history.order_id] = history
        self._added.setdefault((seller, day), []).append(history.order_id)
        self._cache[(seller, day)] = [*orders, history]
        return history

    def override(self, history: OrderHistory) -> None:
        """Replace an order's history from now on (the caller holds the emulator's lock)."""
        key = (history.seller, history.created_at.date())
        self._overrides.setdefault(key, {})[history.order_id] = history
        cached = self._cache.get(key)
        if cached is not None:
            self._cache[key] = [history if o.order_id == history.order_id else o for o in cached]

    def orders_created_on(self, seller: str, day: date) -> list[OrderHistory]:
        key = (seller, day)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        orders = self._generate_day(seller, day)
        if overrides := self._overrides.get(key):
            orders = [overrides.get(o.order_id, o) for o in orders]
            orders += [overrides[order_id] for order_id in self._added.get(key, [])]
        self._cache[key] = orders
        if len(self._cache) > self._cache_days:
            self._cache.popitem(last=False)
        return orders

    def candidates(self, seller: str, start: datetime, end: datetime) -> list[OrderHistory]:
        """Every order that could have been created or updated in [start, end)."""
        first = (start - MAX_ORDER_LIFETIME).date()
        last = end.date()
        out: list[OrderHistory] = []
        day = first
        while day <= last:
            out.extend(self.orders_created_on(seller, day))
            day += timedelta(days=1)
        return out

    def _generate_day(self, seller: str, day: date) -> list[OrderHistory]:
        digest = hashlib.sha256(f"{self.seed}:{seller}:{day.isoformat()}".encode()).digest()
        rng = random.Random(digest)
        tag = seller_tag(seller)
        count = max(1, int(self.orders_per_day * rng.uniform(0.85, 1.15)))
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        offsets = sorted(rng.randrange(86_400) for _ in range(count))
        orders = []
        mkt_ids = list(MARKETPLACES)
        weights = [50, 20, 20, 10]
        for idx, offset in enumerate(offsets):
            created = day_start + timedelta(seconds=offset)
            mkt = rng.choices(mkt_ids, weights)[0]
            _, currency, digits, country, tax_rate, factor, prefix = MARKETPLACES[mkt]
            order_id = f"{prefix}-{day.toordinal() % 10_000_000:07d}-{tag:02d}{idx:05d}"
            fulfilled_by = "AMAZON" if rng.random() < 0.4 else "MERCHANT"
            lines = []
            for n in range(rng.choices([1, 2, 3, 4], [55, 25, 12, 8])[0]):
                sku, asin, title, usd = CATALOGUE[rng.randrange(len(CATALOGUE))]
                title = LOCAL_TITLES.get((country, sku), title)
                qty = rng.choices([1, 2, 3, 5], [70, 18, 8, 4])[0]
                unit = _round(usd * factor, digits)
                ship = _round(Decimal("4.99") * factor, digits) if fulfilled_by == "MERCHANT" and n == 0 else Decimal(0)
                promo = rng.random() < 0.15
                discount = _round(unit * qty * Decimal("0.10"), digits) if promo else Decimal(0)
                tax = _round((unit * qty + ship - discount) * tax_rate, digits)
                lines.append(
                    Line(
                        order_item_id=f"{order_id.replace('-', '')[-11:]}{n:03d}",
                        sku=sku,
                        asin=asin,
                        title=title,
                        quantity=qty,
                        unit_price=unit,
                        shipping=ship,
                        tax=tax,
                        discount=discount,
                        promotion_ids=(f"PROMO-{day.year}-{rng.randrange(1, 9):02d}",) if promo else (),
                    )
                )
            # Amazon's other money cases, drawn from the order's own random stream, so that adding them left every
            # other order and value of the seller as it was.
            extra = random.Random(f"{digest.hex()}:{idx}")
            lines = _money_cases(lines, extra, mkt, fulfilled_by, day.year)
            access_point = extra.random() < 0.05
            events = self._events(rng, created, fulfilled_by, len(lines))
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, region, postal = rng.choice(CITIES[country])
            address = {
                "name": f"{first} {last}",
                "addressLine1": f"{rng.randrange(1, 400)} {rng.choice(STREETS)}",
                "addressLine2": "",
                "city": city,
                "stateOrRegion": region,
                "postalCode": postal,
                "countryCode": country,
                "phone": f"+{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                "addressType": "COMMERCIAL" if rng.random() < 0.2 else "RESIDENTIAL",
            }
            programs = []
            if rng.random() < 0.45:
                programs.append("PRIME")
            if rng.random() < 0.08:
                programs.append("AMAZON_BUSINESS")
            if fulfilled_by == "AMAZON":
                programs.append("DELIVERY_BY_AMAZON")
            orders.append(
                OrderHistory(
                    order_id=order_id,
                    seller=seller,
                    marketplace_id=mkt,
                    created_at=created,
                    fulfilled_by=fulfilled_by,
                    events=tuple(events),
                    lines=tuple(lines),
                    programs=tuple(programs),
                    buyer_name=f"{first} {last}",
                    buyer_email=f"{first.lower()}.{rng.randrange(10**6):06d}@marketplace.amazon.example",
                    address=address,
                    access_point=access_point,
                )
            )
        return orders

    @staticmethod
    def _events(rng: random.Random, created: datetime, fulfilled_by: str, n_lines: int):
        """A status history: Pending first, then the path an order of this kind takes."""
        events = [(created, "PENDING")]
        hours = lambda lo, hi: timedelta(seconds=rng.randrange(int(lo * 3600), int(hi * 3600)))  # noqa: E731
        roll = rng.random()
        if roll < 0.04:  # cancelled while still Pending
            events.append((created + hours(0.2, 30), "CANCELLED"))
            return events
        if roll < 0.07:  # stays Pending for days (payment not authorised), then cancelled
            events.append((created + hours(72, 110), "CANCELLED"))
            return events
        if fulfilled_by == "AMAZON":
            events.append((created + hours(0.1, 2), "UNSHIPPED"))
            events.append((events[-1][0] + hours(6, 40), "SHIPPED"))
            return events
        events.append((created + hours(0.1, 6), "UNSHIPPED"))
        if roll < 0.12:  # the buyer cancels before it ships
            events.append((events[-1][0] + hours(2, 48), "CANCELLED"))
            return events
        if n_lines > 1 and roll < 0.30:
            events.append((events[-1][0] + hours(12, 36), "PARTIALLY_SHIPPED"))
        events.append((events[-1][0] + hours(20, 60), "SHIPPED"))
        return events
