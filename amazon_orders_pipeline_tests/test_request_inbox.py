"""The requests tables' selections (request_inbox.select_rows): conditions of a column, an operator from a fixed list
and a value, never SQL text; on a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from amazon_orders_pipeline.mcf import store
from amazon_orders_pipeline.writeback import outbox

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        outbox.ensure(conn)
        rows = [("r1", "acme-us", "o1", "sent", NOW - timedelta(hours=3)),
                ("r2", "acme-us", "o2", "accepted", NOW - timedelta(minutes=5)),
                ("r3", "acme-eu", "o3", "queued", None),
                ("r4", "acme-us", "o4", "queued", None)]
        for n, (request_id, account, order_id, status, sent_at) in enumerate(rows):
            conn.execute("insert into writeback.requests (request_id, kind, account_id, order_id, details, status, "
                         "source_file, received_at, sent_at, updated_at) values (?, 'shipment', ?, ?, '{}', ?, "
                         "'f.jsonl', ?, ?, ?)", [request_id, account, order_id, status,
                                                 NOW + timedelta(seconds=n), sent_at, NOW])
        yield conn


def ids(rows: list[dict]) -> list[str]:
    return [r["request_id"] for r in rows]


def test_conditions_combine_and_their_values_are_parameters(conn):
    assert ids(outbox.rows(conn)) == ["r1", "r2", "r3", "r4"]  # oldest first
    assert ids(outbox.rows(conn, ("status", "=", "queued"), ("account_id", "=", "acme-us"))) == ["r4"]
    assert ids(outbox.rows(conn, ("status", "in", ("sent", "accepted")),
                           ("sent_at", "<", NOW - timedelta(hours=1)))) == ["r1"]
    assert ids(outbox.rows(conn, ("order_id", "in", ["o2", "o3", "nope"]))) == ["r2", "r3"]
    assert ids(outbox.rows(conn, ("sent_at", "null or not in", [NOW - timedelta(hours=3)]))) == ["r2", "r3", "r4"]
    # A value is a value: a quote in it is matched, not run.
    assert outbox.rows(conn, ("status", "=", "queued' or '1'='1")) == []


@pytest.mark.parametrize("condition", [
    ("status = 'queued' or 1=1 --", "=", "x"),  # a column that is not the table's
    ("status", "like", "%"),  # an operator that is not on the list
    ("shop_order_id", "=", "x"),  # the other table's column
])
def test_a_column_or_operator_not_on_the_lists_is_refused(conn, condition):
    with pytest.raises(ValueError, match="own names"):
        outbox.rows(conn, condition)


def test_the_mcf_table_takes_the_same_conditions(tmp_path):
    with duckdb.connect(str(tmp_path / "m.duckdb")) as conn:
        store.ensure(conn)
        assert store.rows(conn, ("status", "=", "submitted"), ("amazon_status", "null or not in", ("Complete",))) == []
        with pytest.raises(ValueError):
            store.rows(conn, ("request_id", "=", "x"))
