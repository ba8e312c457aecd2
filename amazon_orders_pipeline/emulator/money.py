"""The money Amazon posts for one order of the synthetic seller (Finances v2024-06-19 transactions): a Shipment per
shipment, a Refund for some, deferred money for others; every amount derived from the order's own lines, so the
money ties to the order to the cent.

What the emulator decides, and why (facts in docs/money.md and the finances notes):
- the referral fee (`Commission`) is the greater of the SKU's category percentage of the sales price (item, shipping
  and gift wrap, less promotions; VAT included in the UK and DE, as in Amazon's SE sample) and a per-unit minimum;
- Amazon-fulfilled lines pay `FBAPerUnitFulfillmentFee` per unit by the SKU's size tier; in the UK and DE that fee
  carries VAT as a `Tax` child (the commission does not, as in the sample);
- where Amazon is the marketplace facilitator, the tax it collected is withheld again (`ItemWithheldTax`);
- JP points granted are a cost to the seller (`PointsCost`); cash-on-delivery fees are the seller's (`CODCharges`);
- a Refund (7% of shipped orders, 4 to 30 days after shipping) pays back one line, all of it or some units: its
  principal, promotion and tax in proportion, the referral fee credited back less the refund administration fee
  (the lesser of 5 dollars or 20% of it, `RefundCommission`); shipping is not refunded here;
- top-level buckets follow the sign, not the nature (Amazon's own refunds do: amzn/selling-partner-api-models#4274):
  a group whose total is negative is an `Expenses` child, else a `Sales` child.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES

# sku -> (referral fee share, FBA fee per unit in USD): a category and a size tier of Amazon's fee schedules.
FEE_SCHEDULE: dict[str, tuple[Decimal, Decimal]] = {
    "ECHO-DOT-5-CHARCOAL": (Decimal("0.08"), Decimal("3.86")),
    "FIRE-TV-4K-MAX": (Decimal("0.08"), Decimal("3.86")),
    "KINDLE-PW-16GB": (Decimal("0.08"), Decimal("4.75")),
    "USB-C-CABLE-2M": (Decimal("0.15"), Decimal("3.22")),
    "YOGA-MAT-6MM": (Decimal("0.15"), Decimal("6.10")),
    "COFFEE-BEANS-1KG": (Decimal("0.15"), Decimal("5.40")),
    "LED-DESK-LAMP": (Decimal("0.15"), Decimal("5.40")),
    "WATER-BOTTLE-750": (Decimal("0.15"), Decimal("4.75")),
    "NOTEBOOK-A5-DOT": (Decimal("0.15"), Decimal("3.22")),
    "HDMI-SWITCH-3P": (Decimal("0.08"), Decimal("3.22")),
    "PHONE-STAND-ALU": (Decimal("0.15"), Decimal("3.86")),
    "GARDEN-GLOVES-L": (Decimal("0.15"), Decimal("3.86")),
}
DEFAULT_FEES = (Decimal("0.15"), Decimal("4.75"))  # a SKU the schedule does not name (an MCF order's)
MIN_REFERRAL_USD = Decimal("0.30")  # per unit
REFUND_ADMIN_CAP_USD = Decimal("5.00")
REFUND_ADMIN_SHARE = Decimal("0.20")
VAT_ON_FEES = {"GB", "DE"}
WITHHELD_NAME = {"US": "MarketplaceFacilitatorTax", "GB": "MarketplaceFacilitatorVAT",
                 "DE": "MarketplaceFacilitatorVAT", "JP": "MarketplaceFacilitatorTax"}
REFUND_SHARE = 0.07
DEFERRED_SHARE = 0.10  # DD7: released seven days after delivery; business orders are all deferred (B2B)
B2B_TERMS = timedelta(days=30)
DELIVERY_AFTER_SHIPPING = timedelta(days=3)

# A leaf amount: (its path below the top-level bucket, amount), e.g. (("AmazonFees", "Commission", "Base"), -1.2).
Leaf = tuple[tuple[str, ...], Decimal]


@dataclass(frozen=True)
class ItemMoney:
    sku: str
    asin: str
    quantity: int
    network: str  # AFN | MFN
    leaves: tuple[Leaf, ...]
    adjustment_item_id: str | None = None  # a refund's ORDER_ADJUSTMENT_ITEM_ID

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.leaves), Decimal(0))


@dataclass(frozen=True)
class Posting:
    """One transaction as Amazon posts it, before its status and shape are drawn as of a moment."""

    transaction_id: str
    transaction_type: str  # Shipment | Refund | ServiceFee | Adjustment
    description: str
    marketplace_id: str
    posted_at: datetime
    listable_at: datetime  # when listTransactions first shows it (about 48 hours after posting)
    order_id: str | None = None
    shipment_id: str | None = None
    refund_id: str | None = None
    items: tuple[ItemMoney, ...] = ()
    leaves: tuple[Leaf, ...] = ()  # transaction-level amounts (fees without an order)
    maturity: datetime | None = None  # deferred until then
    deferral_reason: str | None = None

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.marketplace_id][1]

    @property
    def total(self) -> Decimal:
        return sum((i.total for i in self.items), Decimal(0)) + sum((a for _, a in self.leaves), Decimal(0))

    def status_as_of(self, as_of: datetime) -> str:
        if self.maturity is None:
            return "RELEASED"
        return "DEFERRED" if as_of < self.maturity else "DEFERRED_RELEASED"

    def released_at(self) -> datetime:
        """When its money became payable: its posting, or its maturity when deferred."""
        return self.maturity or self.posted_at


def rounded(amount: Decimal, digits: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _nonzero(*leaves: Leaf) -> tuple[Leaf, ...]:
    return tuple(leaf for leaf in leaves if leaf[1])


@dataclass(frozen=True)
class LineFees:
    """What one order line (some of its units) brings and costs."""

    item_tax: Decimal
    shipping_tax: Decimal
    gift_wrap_tax: Decimal
    commission: Decimal  # positive: what Amazon keeps
    fba_fee: Decimal
    fba_fee_tax: Decimal


def line_fees(line, marketplace_id: str, network: str) -> LineFees:
    _, _, digits, country, tax_rate, factor, _ = MARKETPLACES[marketplace_id]
    shipping_tax = rounded((line.shipping - line.shipping_discount) * tax_rate, digits)
    gift_wrap_tax = rounded(line.gift_wrap * tax_rate, digits)
    share, fba_usd = FEE_SCHEDULE.get(line.sku, DEFAULT_FEES)
    basis = line.item_amount + line.shipping + line.gift_wrap - line.discounts
    if country in VAT_ON_FEES:
        basis += line.tax
    commission = max(rounded(basis * share, digits), rounded(MIN_REFERRAL_USD * factor, digits) * line.quantity)
    fba_fee = rounded(fba_usd * factor, digits) * line.quantity if network == "AFN" else Decimal(0)
    fba_fee_tax = rounded(fba_fee * tax_rate, digits) if country in VAT_ON_FEES else Decimal(0)
    return LineFees(line.tax - shipping_tax - gift_wrap_tax, shipping_tax, gift_wrap_tax, commission, fba_fee,
                    fba_fee_tax)


def shipment_item(line, marketplace_id: str, network: str, facilitator: bool, points: int) -> ItemMoney:
    """A shipped line's money: what the buyer paid, less Amazon's fees and what it withholds."""
    country = MARKETPLACES[marketplace_id][3]
    f = line_fees(line, marketplace_id, network)
    withheld = WITHHELD_NAME[country]
    leaves = _nonzero(
        (("ProductCharges", "OurPricePrincipal"), line.item_amount),
        (("Shipping", "ShippingPrincipal"), line.shipping),
        (("GiftWrap", "GiftWrapPrincipal"), line.gift_wrap),
        (("Tax", "OurPriceTax"), f.item_tax),
        (("Tax", "ShippingTax"), f.shipping_tax),
        (("Tax", "GiftWrapTax"), f.gift_wrap_tax),
        (("CODCharges", "CODChargePrincipal"), line.cod_fee - line.cod_fee_discount),
        (("Promotions", "PromotionPrincipal"), -line.discount),
        (("Promotions", "PromotionShipping"), -line.shipping_discount),
        (("AmazonFees", "Commission", "Base"), -f.commission),
        (("AmazonFees", "FBAPerUnitFulfillmentFee", "Base"), -f.fba_fee),
        (("AmazonFees", "FBAPerUnitFulfillmentFee", "Tax"), -f.fba_fee_tax),
        (("PointsCost", "CostOfPointsGranted"), -Decimal(points)),
        *(((("ItemWithheldTax", f"{withheld}-Principal"), -f.item_tax),
            (("ItemWithheldTax", f"{withheld}-Shipping"), -f.shipping_tax),
            (("ItemWithheldTax", f"{withheld}-Giftwrap"), -f.gift_wrap_tax)) if facilitator else ()),
    )
    return ItemMoney(line.sku, line.asin, line.quantity, network, leaves)


def refund_item(line, units: int, marketplace_id: str, network: str, facilitator: bool,
                adjustment_item_id: str) -> ItemMoney:
    """Some units of a line paid back: principal, promotion and tax in proportion; the referral fee credited back
    less the refund administration fee."""
    _, _, digits, country, _, factor, _ = MARKETPLACES[marketplace_id]
    f = line_fees(line, marketplace_id, network)
    part = Decimal(units) / Decimal(line.quantity)
    principal = rounded(line.item_amount * part, digits)
    promotion = rounded(line.discount * part, digits)
    tax = rounded(f.item_tax * part, digits)
    credit = rounded(f.commission * part, digits)
    admin = min(rounded(REFUND_ADMIN_CAP_USD * factor, digits), rounded(credit * REFUND_ADMIN_SHARE, digits))
    leaves = _nonzero(
        (("ProductCharges", "OurPricePrincipal"), -principal),
        (("Promotions", "PromotionPrincipal"), promotion),
        (("Tax", "OurPriceTax"), -tax),
        (("AmazonFees", "Commission", "Base"), credit),
        (("AmazonFees", "RefundCommission", "Base"), -admin),
        *(((("ItemWithheldTax", f"{WITHHELD_NAME[country]}-Principal"), tax),) if facilitator else ()),
    )
    return ItemMoney(line.sku, line.asin, units, network, leaves, adjustment_item_id)


def draw_refund(rng: random.Random, lines) -> tuple[int, int, timedelta] | None:
    """(line index, units, days after shipping) of an order's refund, or None: from the order's money stream."""
    if rng.random() >= REFUND_SHARE:
        return None
    index = rng.randrange(len(lines))
    quantity = lines[index].quantity
    units = quantity if quantity == 1 or rng.random() < 0.7 else rng.randrange(1, quantity)
    return index, units, timedelta(hours=rng.randrange(4 * 24, 30 * 24))


def draw_deferral(rng: random.Random, business: bool, shipped_at: datetime) -> tuple[str, datetime] | None:
    """(reason, maturity) of a deferred order's money, or None."""
    if business:
        return "B2B", shipped_at + B2B_TERMS
    if rng.random() < DEFERRED_SHARE:
        return "DD7", shipped_at + DELIVERY_AFTER_SHIPPING + timedelta(days=7)
    return None
