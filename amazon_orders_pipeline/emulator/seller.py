"""The emulator's synthetic seller: deterministic orders and their status histories, a function of the seed."""

from __future__ import annotations

import gc
import hashlib
import random
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from amazon_orders_pipeline.emulator.catalogue import (
    CATALOGUE,
    CITIES,
    FIRST_NAMES,
    LAST_NAMES,
    LOCAL_TITLES,
    MARKETPLACES,
    STREETS,
)
from amazon_orders_pipeline.emulator.order_sections import draw_sections
from amazon_orders_pipeline.emulator.orders import MAX_ORDER_LIFETIME, Line, OrderHistory, seller_tag


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
        # How many times the seller's actions changed a day's orders: what is derived from them (the money) is kept
        # as long as this has not moved.
        self.versions: dict[tuple[str, date], int] = {}

    def add(self, seller: str, day: date, make) -> OrderHistory:
        """A new order of a seller created on `day` (a Multi-Channel Fulfillment order): `make(index)` builds it
        from its index in the day, which its id must end in (find_order looks orders up by it). Kept like an
        override, so it survives the day leaving the cache (the caller holds the emulator's lock)."""
        orders = self.orders_created_on(seller, day)
        history = make(len(orders))
        self._overrides.setdefault((seller, day), {})[history.order_id] = history
        self._added.setdefault((seller, day), []).append(history.order_id)
        self.versions[(seller, day)] = self.versions.get((seller, day), 0) + 1
        self._cache[(seller, day)] = [*orders, history]
        return history

    def override(self, history: OrderHistory) -> None:
        """Replace an order's history from now on (the caller holds the emulator's lock)."""
        key = (history.seller, history.created_at.date())
        self._overrides.setdefault(key, {})[history.order_id] = history
        self.versions[key] = self.versions.get(key, 0) + 1
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
        # A day's orders live as long as the cache keeps them and hold no reference cycles (they are freed by
        # reference counting): kept out of the cycle collector's full passes, which otherwise walk every cached
        # order again, about a second per pass at 50,000 orders a day.
        gc.freeze()
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
            lines = self._lines(rng, order_id, day, country, factor, digits, tax_rate, fulfilled_by)
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
            # Tax collection, registrations, payment, points, carrier: from a stream of their own, drawn after the
            # rest, so that they changed nothing the seller had before.
            sections = draw_sections(random.Random(f"{digest.hex()}:{idx}:sections"), mkt, fulfilled_by,
                                     "AMAZON_BUSINESS" in programs, any(line.cod_fee for line in lines), last,
                                     [line.item_amount for line in lines])
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
                    sections=sections,
                )
            )
        return orders

    @staticmethod
    def _lines(rng: random.Random, order_id: str, day: date, country: str, factor: Decimal, digits: int,
               tax_rate: Decimal, fulfilled_by: str) -> list[Line]:
        """An order's lines, drawn from the day's stream (the draws, in this order, are the seller's seed)."""
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
        return lines

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
