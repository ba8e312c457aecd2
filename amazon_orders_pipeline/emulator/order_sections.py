"""The sections of a v2026 Order beyond the basics that the synthetic seller fills: who collects the tax, the
parties' tax registrations, payment, Amazon Points, and the seller's packages; drawn once per order, served as of a
moment.

What the emulator decides, and why:
- tax collection: Amazon is the marketplace facilitator for every US order here (all the seller's US states have
  such a law), and for a share of UK and DE orders (goods shipped from outside under the import thresholds, sellers
  established outside); the seller collects the rest, and all of JP. A facilitator line names Amazon as the
  responsible party; a seller-collected one has no `taxCollections` (as v0 gives `TaxCollection` only for these);
- tax registrations: business orders carry the buyer's (VAT in the UK and DE, a business number in the US and JP)
  and, in the UK and DE, the seller's own VAT registration;
- payment: one execution for the grand total: cash on delivery for JP COD orders, an invoice for half the business
  orders, a card otherwise; no card brand (Amazon gives it in BR only);
- points: JP only, granted on a share of lines, one point per 100 yen of the item, a point worth a yen;
- packages: seller-fulfilled orders only, as Amazon documents. A generated order ships in one package when it
  becomes SHIPPED (its status fixed at the hand-over: a package's later tracking does not change the order's
  lastUpdatedTime, so a reader would not see it); the packages the seller confirms through the write-back replace
  them;
- no `fulfillmentOrders` and no `taxInvoicing`: Amazon gives those for Easy Ship, BR and TR only, none of which the
  seller sells in.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.values import iso

FACILITATOR = "MARKETPLACE_FACILITATOR"
RESPONSIBLE_PARTY = {"US": "Amazon Services, Inc.", "GB": "Amazon Services Europe S.a.r.L.",
                     "DE": "Amazon Services Europe S.a.r.L."}
FACILITATOR_SHARE = {"US": 1.0, "GB": 0.12, "DE": 0.12, "JP": 0.0}
LEGAL_FORMS = {"US": "LLC", "GB": "Ltd", "DE": "GmbH", "JP": "K.K."}
CARRIERS = {"US": ("USPS", "UPS", "FedEx"), "GB": ("Royal Mail", "DPD"), "DE": ("DHL", "Hermes"),
            "JP": ("Yamato Transport", "Sagawa Express", "Japan Post")}
SHIP_FROM = {"US": ("Acme Warehouse", "1200 Harbor Way", "Seattle", "WA", "98134"),
             "GB": ("Acme Warehouse", "4 Dock Road", "Leeds", "England", "LS10 1AA"),
             "DE": ("Acme Lager", "Lagerstrasse 7", "Hamburg", "Hamburg", "20457"),
             "JP": ("Acme Soko", "1-2-3 Shinkiba", "Tokyo", "Tokyo", "136-0082")}


@dataclass(frozen=True)
class Sections:
    """An order's draws for these sections, fixed when the order is generated."""

    tax_collection: bool = False  # Amazon collects and remits the tax (marketplace facilitator)
    reporting_scheme: str | None = None  # IOSS for DE imports under the threshold
    buyer_registration: tuple[str, str, str] | None = None  # (legal name, type, number), business orders
    payment_method: str | None = None
    points: tuple[int, ...] = ()  # points granted per line, JP only
    carrier: str = ""  # for the generated package of a seller-fulfilled order

    def points_of(self, line_index: int) -> int:
        """The points granted on an order's line (none where none were drawn, as for MCF orders)."""
        return self.points[line_index] if line_index < len(self.points) else 0


def draw_sections(rng: random.Random, marketplace_id: str, fulfilled_by: str, business: bool, cod: bool,
                  last_name: str, line_amounts: list[Decimal]) -> Sections:
    """An order's sections from its own random stream (so that drawing them changed no other value)."""
    country = MARKETPLACES[marketplace_id][3]
    facilitator = rng.random() < FACILITATOR_SHARE[country]
    registration = None
    if business:
        number = f"{rng.randrange(10**8, 10**9)}"
        kind, prefix = ("VAT", country) if country in ("GB", "DE") else ("BUSINESS", "")
        registration = (f"{last_name} Trading {LEGAL_FORMS[country]}", kind, prefix + number)
    method = "CashOnDelivery" if cod else "Invoice" if business and rng.random() < 0.5 else "CreditCard"
    points = tuple(int(amount // 100) if country == "JP" and rng.random() < 0.3 else 0 for amount in line_amounts)
    return Sections(
        tax_collection=facilitator,
        reporting_scheme="IOSS" if facilitator and country == "DE" else None,
        buyer_registration=registration, payment_method=method, points=points,
        carrier=rng.choice(CARRIERS[country]) if fulfilled_by == "MERCHANT" else "")


def seller_vat_number(seller: str, country: str) -> str:
    return country + str(int.from_bytes(hashlib.sha256(f"vat:{seller}:{country}".encode()).digest()[:4], "big")
                         % 10**9).zfill(9)


def tracking_number(order_id: str) -> str:
    return "1Z" + hashlib.sha256(f"track:{order_id}".encode()).hexdigest()[:16].upper()


def item_tax(sections: Sections, country: str) -> dict | None:
    if not sections.tax_collection:
        return None
    tax: dict = {"taxCollections": [{"model": FACILITATOR, "responsibleParty": RESPONSIBLE_PARTY[country]}]}
    if sections.reporting_scheme:
        tax["taxCalculationBreakdowns"] = [{"reportingScheme": sections.reporting_scheme}]
    return tax


def order_tax(history, country: str) -> dict | None:
    registrations = []
    s = history.sections
    if s.buyer_registration:
        legal_name, kind, number = s.buyer_registration
        a = history.address
        registrations.append({
            "entityType": "BUYER", "legalName": legal_name, "taxRegistrationType": kind,
            "taxRegistrationNumber": number,
            "taxRegistrationAddress": {"name": legal_name, "addressLine1": a["addressLine1"], "city": a["city"],
                                       "stateOrRegion": a["stateOrRegion"], "postalCode": a["postalCode"],
                                       "countryCode": a["countryCode"]}})
        if country in ("GB", "DE"):
            registrations.append({"entityType": "MERCHANT", "legalName": f"Acme Trading {LEGAL_FORMS[country]}",
                                  "taxRegistrationType": "VAT",
                                  "taxRegistrationNumber": seller_vat_number(history.seller, country)})
    return {"taxRegistrations": registrations} if registrations else None


def packages(history, status: str, as_of: datetime) -> list[dict]:
    """The seller's packages as of a moment: those it confirmed, else the generated one once the order shipped."""
    if history.fulfilled_by != "MERCHANT":
        return []
    if history.packages:
        shipped = [(p.reference_id, p.shipped_at, p.carrier_code, p.tracking_number, p.items)
                   for p in history.packages if p.shipped_at <= as_of]
    elif status == "SHIPPED":
        shipped_at = next(t for t, s in history.events if s == "SHIPPED")
        shipped = [("1", shipped_at, history.sections.carrier, tracking_number(history.order_id),
                    tuple((line.order_item_id, line.quantity) for line in history.lines))]
    else:
        return []
    country = MARKETPLACES[history.marketplace_id][3]
    name, line1, city, region, postal = SHIP_FROM[country]
    ship_from = {"name": name, "addressLine1": line1, "city": city, "stateOrRegion": region, "postalCode": postal,
                 "countryCode": country}
    return [{
        "packageReferenceId": reference,
        "createdTime": iso(shipped_at - timedelta(hours=2)),
        "packageStatus": {"status": "SHIPPED",
                          "detailedStatus": "PICKED_UP" if sum(map(ord, tracking)) % 2 else "DROPPED_OFF"},
        "carrier": carrier,
        "shipTime": iso(shipped_at),
        "shippingService": "Standard",
        "trackingNumber": tracking,
        "shipFromAddress": ship_from,
        "packageItems": [{"orderItemId": item_id, "quantity": quantity} for item_id, quantity in items],
    } for reference, shipped_at, carrier, tracking, items in shipped]
