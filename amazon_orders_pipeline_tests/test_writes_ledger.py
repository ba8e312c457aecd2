"""The writes' requests tables (writes/ledger.py's RequestTable): named selections of fixed statements whose values
are parameters, updates of the columns a pass may change, and the prune of closed requests; on a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from amazon_orders_pipeline.writes.mcf import ledger as mcf_ledger
from amazon_orders_pipeline.writes.mfn import ledger as mfn_ledger

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        mfn_ledger.ensure(conn)
        rows = [("r1", "acme-us", "o1", "sent", NOW - timedelta(hours=3), None),
                ("r2", "acme-us", "o2", "accepted", NOW - timedelta(minutes=5), None),
                ("r3", "acme-eu", "o3", "queued", None, None),
                ("r4", "acme-us", "o4", "queued", None, None),
                ("r5", "acme-us", "o5", "confirmed", NOW - timedelta(days=100), NOW - timedelta(days=99)),
                ("r6", "acme-us", "o6", "refused", None, NOW - timedelta(days=2))]
        for n, (request_id, account, order_id, status, sent_at, closed_at) in enumerate(rows):
            conn.execute("insert into writeback.requests (request_id, kind, account_id, order_id, details, status, "
                         "source_file, received_at, sent_at, closed_at, updated_at) values (?, 'shipment', ?, ?, "
                         "'{}', ?, 'f.jsonl', ?, ?, ?, ?)", [request_id, account, order_id, status,
                                                             NOW + timedelta(seconds=n), sent_at, closed_at, NOW])
        yield conn


def ids(rows: list[dict]) -> list[str]:
    return [r["request_id"] for r in rows]


def test_selections_are_fixed_statements_and_their_values_parameters(conn):
    assert ids(mfn_ledger.rows(conn)) == ["r1", "r2", "r3", "r4", "r5", "r6"]  # oldest first
    assert ids(mfn_ledger.rows(conn, "account_status", "acme-us", "queued")) == ["r4"]
    assert ids(mfn_ledger.rows(conn, "awaiting_since", mfn_ledger.AWAITING_MARTS, NOW - timedelta(hours=1))) == ["r1"]
    assert ids(mfn_ledger.rows(conn, "status_orders", "queued", ["o2", "o3", "nope"])) == ["r3"]
    # A value is a value: a quote in it is matched, not run.
    assert mfn_ledger.rows(conn, "status", "queued' or '1'='1") == []


@pytest.mark.parametrize("selection", ["status = 'queued' or 1=1 --", "by_anything", "stuck_since"])
def test_a_selection_not_declared_for_the_table_is_refused(conn, selection):
    with pytest.raises(ValueError, match="own names"):
        mfn_ledger.rows(conn, selection, "x")


def test_only_the_columns_a_pass_may_change_are_updated(conn):
    mfn_ledger.update(conn, [("r3", {"status": "in_feed", "feed_id": "F1", "request_body": {"message_id": 1}})],
                      NOW + timedelta(hours=1))
    (row,) = [r for r in mfn_ledger.rows(conn) if r["request_id"] == "r3"]
    assert (row["status"], row["feed_id"], row["updated_at"]) == ("in_feed", "F1", NOW + timedelta(hours=1))
    with pytest.raises(ValueError, match="own names"):
        mfn_ledger.update(conn, [("r3", {"details": "{}"})], NOW)  # what the ERP asked for never changes
    assert [r["status"] for r in mfn_ledger.rows(conn) if r["request_id"] == "r3"] == ["in_feed"]


def test_closed_requests_older_than_the_retention_are_pruned_and_nothing_else(conn):
    assert mfn_ledger.prune(conn, NOW - timedelta(days=90)) == 1
    assert ids(mfn_ledger.rows(conn)) == ["r1", "r2", "r3", "r4", "r6"]  # r6 closed two days ago: kept
    assert mfn_ledger.prune(conn, NOW - timedelta(days=90)) == 0


def test_the_mcf_table_prunes_closed_orders_with_their_packages(tmp_path):
    with duckdb.connect(str(tmp_path / "m.duckdb")) as conn:
        mcf_ledger.ensure(conn)
        orders = [("s1", "submitted", "Complete", NOW - timedelta(days=120)),
                  ("s2", "submitted", "Processing", NOW - timedelta(days=120)),
                  ("s3", "refused", None, NOW - timedelta(days=120)),
                  ("s4", "cancelled", None, NOW - timedelta(days=1))]
        for n, (shop_id, status, amazon_status, updated) in enumerate(orders):
            conn.execute("insert into mcf.fulfillment_orders (shop_order_id, seller_fulfillment_order_id, account_id, "
                         "marketplace_id, request_body, status, amazon_status, source_file, received_at, updated_at) "
                         "values (?, ?, 'shop', 'ATVPDKIKX0DER', '{}', ?, ?, 'f.csv', ?, ?)",
                         [shop_id, f"F-{shop_id}", status, amazon_status, NOW + timedelta(seconds=n), updated])
            conn.execute("insert into mcf.fulfillment_packages (seller_fulfillment_order_id, package_number) "
                         "values (?, 1)", [f"F-{shop_id}"])
        assert [r["shop_order_id"] for r in mcf_ledger.rows(conn, "open_at_amazon", ("Complete",))] == ["s2"]
        assert mcf_ledger.prune(conn, NOW - timedelta(days=90)) == 2
        assert [r["shop_order_id"] for r in mcf_ledger.rows(conn)] == ["s2", "s4"]
        assert sorted(r[0] for r in conn.execute("select seller_fulfillment_order_id from mcf.fulfillment_packages")
                      .fetchall()) == ["F-s2", "F-s4"]
        with pytest.raises(ValueError):
            mcf_ledger.rows(conn, "account_status", "x", "y")  # the other table's selection
