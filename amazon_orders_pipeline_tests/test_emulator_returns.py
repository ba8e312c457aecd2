"""The emulator's returns (emulator/returns.py): consistent with the seller's orders and refunds, per unit with a
license plate (Amazon-fulfilled) or per RMA (merchant-fulfilled), late as Amazon's FBA report is."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests

from amazon_orders_pipeline.emulator import finances, returns
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.catalogue import MARKETPLACES
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.money import DELIVERY_AFTER_SHIPPING
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.emulator.state import EmulatorState
from amazon_orders_pipeline.sp_api.marketplaces import region_of
from amazon_orders_pipeline.testing.control import EmulatorControl

from .test_emulator_reports import Client

SELLER = seller_key(emulator_refresh_token("acme-us"))


@pytest.fixture(scope="module")
def seller():
    """90 days of a seller's orders (100 a day per marketplace), their money and their returns."""
    state = EmulatorState(seed=11, orders_per_day=100)
    now = state.clock.now()
    orders = state.window_orders(SELLER, "created", now - timedelta(days=150), now - timedelta(days=60), now,
                                 indexed=False)
    money = {o.order_id: finances.order_postings(o) for o in orders}
    rows = {o.order_id: returns.order_returns(o, money[o.order_id]) for o in orders}
    return state, now, orders, money, rows


def test_returns_follow_the_refunds(seller):
    _, _, orders, money, rows = seller
    by_id = {o.order_id: o for o in orders}
    returnless = partial = unrefunded = 0
    refunds = [p for postings in money.values() for p in postings if p.transaction_type == "Refund"]
    for refund in refunds:
        got = rows[refund.order_id]
        item = refund.items[0]
        if not got:
            returnless += 1
            continue
        # The refunded line came back: the refunded units, or one more that was not refunded.
        assert {r.sku for r in got} == {item.sku}
        units = sum(r.quantity for r in got)
        line = next(x for x in by_id[refund.order_id].lines if x.sku == item.sku and x.quantity >= item.quantity)
        assert item.quantity <= units <= min(item.quantity + 1, line.quantity)
        partial += units > item.quantity
        assert all(r.refund_id == refund.refund_id and r.refunded > 0 for r in got)
        shipped = max(p.posted_at for p in money[refund.order_id] if p.transaction_type == "Shipment")
        for r in got:
            assert shipped + DELIVERY_AFTER_SHIPPING <= r.requested_at <= refund.posted_at
    for order_id, got in rows.items():
        if got and not any(p.transaction_type == "Refund" for p in money[order_id]):
            unrefunded += 1
            assert all(r.refunded is None and r.refund_id is None for r in got)
    # About 15% of refunds have no return; some returns were refunded in part; some returns have no refund.
    assert 0.05 * len(refunds) < returnless < 0.3 * len(refunds)
    assert partial > 0 and unrefunded > 0


def test_an_amazon_fulfilled_return_is_a_row_per_unit_and_comes_late(seller):
    _, _, orders, _, rows = seller
    afn = [r for got in rows.values() for r in got if r.network == "AFN"]
    mfn = [r for got in rows.values() for r in got if r.network == "MFN"]
    assert afn and mfn
    assert all(r.quantity == 1 and r.return_key.startswith("LPN") and r.disposition in dict(returns.DISPOSITIONS)
               for r in afn)
    assert len({r.return_key for r in afn}) == len(afn)
    # One SKU of one order returned twice: two rows, told apart by license plate and date.
    twice = Counter((r.order_id, r.sku) for r in afn)
    assert max(twice.values()) >= 2
    for r in afn:
        assert r.requested_at < r.processed_at <= r.listed_at and r.report_date == r.processed_at
    assert any(r.processed_at - r.order_created_at >= timedelta(days=40) for r in afn)
    assert all(r.disposition is None and r.reason.startswith(("CR-", "AMZ-PG-")) and r.report_date == r.requested_at
               and r.return_key.startswith("D") for r in mfn)
    by_order = {o.order_id: o for o in orders}
    assert all(by_order[r.order_id].fulfilled_by == ("AMAZON" if r.network == "AFN" else "MERCHANT")
               for r in afn + mfn)


def test_report_rows_have_amazons_columns(seller):
    _, _, _, _, rows = seller
    afn = next(r for got in rows.values() for r in got if r.network == "AFN")
    mfn = next(r for got in rows.values() for r in got if r.network == "MFN" and r.refunded is not None)
    assert list(returns.fba_row(afn)) == returns.FBA_COLUMNS
    row = returns.mfn_row(mfn)
    assert list(row) == returns.MFN_COLUMNS
    assert row["Refunded Amount"] == str(mfn.refunded) and row["Return quantity"] == str(mfn.quantity)


def test_a_window_shows_what_was_listed_by_then_and_a_later_read_finds_more(seller):
    state, now, _, _, rows = seller
    afn = sorted((r for got in rows.values() for r in got if r.network == "AFN"), key=lambda r: r.processed_at)
    late = next(r for r in afn if r.listed_at - r.processed_at > timedelta(hours=12))
    start, end = late.processed_at - timedelta(hours=1), late.processed_at + timedelta(hours=1)
    before = returns.returns_in(state, SELLER, "AFN", start, end, late.listed_at - timedelta(seconds=1))
    after = returns.returns_in(state, SELLER, "AFN", start, end, now)
    assert late not in before and late in after
    assert all(start <= r.processed_at < end for r in after)
    assert returns.returns_in(EmulatorState(seed=11, orders_per_day=100), SELLER, "AFN", start, end, now) == after


@pytest.fixture
def emulator():
    with Emulator(speed=1000, seed=11, orders_per_day=100, report_processing_s=30) as emu:
        yield emu


def test_the_returns_reports_serve_the_rows_over_the_reports_api(emulator):
    client = Client(emulator, emulator_refresh_token("acme-us"))
    now = emulator.state.clock.now()
    start, end = now - timedelta(days=100), now - timedelta(days=70)
    served = set()
    for report_type, network, render in ((returns.FBA_RETURNS, "AFN", returns.fba_row),
                                         (returns.MFN_RETURNS, "MFN", returns.mfn_row)):
        created = client.create(report_type, ["ATVPDKIKX0DER"], start, end)
        assert created.status_code == 202, created.text
        done = client.finished(created.json()["reportId"])
        assert done["processingStatus"] == "DONE"
        _, rows, _ = client.download(done["reportDocumentId"])
        as_of = datetime.fromisoformat(done["processingEndTime"])
        expected = returns.returns_in(emulator.state, SELLER, network, start, end, as_of,
                                      marketplaces={m for m in MARKETPLACES if region_of(m) == "NA"})
        assert expected and rows == [render(r) for r in expected]
        served |= {(network, r.order_id, r.return_key) for r in expected if r.marketplace_id == "ATVPDKIKX0DER"}
    # The ground truth over the control endpoint names the same rows of the marketplace asked for.
    truth = EmulatorControl(emulator).returns_truth("acme-us", start, end, ["ATVPDKIKX0DER"])
    assert {(t["network"], t["order_id"], t["return_key"]) for t in truth} == served


def test_an_mfn_window_over_60_days_fails_and_an_empty_one_is_cancelled(emulator):
    client = Client(emulator, emulator_refresh_token("acme-us"))
    now = emulator.state.clock.now()
    long = client.finished(client.create(returns.MFN_RETURNS, ["ATVPDKIKX0DER"], now - timedelta(days=61),
                                         now).json()["reportId"])
    assert long["processingStatus"] == "FATAL"
    error = gzip.decompress(requests.get(client.document(long["reportDocumentId"]).json()["url"], timeout=30).content)
    assert returns.MFN_WINDOW_TOO_LONG in error.decode()
    empty = client.finished(client.create(returns.MFN_RETURNS, ["ATVPDKIKX0DER"], now - timedelta(days=5),
                                          now - timedelta(days=5) + timedelta(seconds=1)).json()["reportId"])
    assert empty["processingStatus"] == "CANCELLED" and "reportDocumentId" not in empty
