"""The raw layer in DuckDB: pages and their per-order records replace a partition together, or not at all."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.dbt_project import DBT_PROJECT_DIR
from amazon_orders_pipeline.warehouse import PageRow, replace_partition, split_orders
from amazon_orders_pipeline.warehouse_resource import WarehouseLockedError, WarehouseResource

DAY = date(2026, 10, 1)


def page(n: int, orders: list, account_id: str = "acme-us", day: date = DAY, text: str | None = None) -> PageRow:
    return PageRow(account_id, day, n, "2026-01-01", "attempt-1", "{}", f"req-{n}",
                   datetime(2026, 10, 2, 0, 5, n, tzinfo=UTC), len(orders), False,
                   text if text is not None else json.dumps({"orders": orders}))


def records(conn) -> list[tuple]:
    return conn.execute("select account_id, partition_date, page_number, record_index, order_json "
                        "from raw.order_records order by all").fetchall()


def test_each_order_of_each_page_becomes_one_record_in_the_same_transaction(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        pages = [page(1, [{"orderId": "a", "n": 1.5}, {"orderId": "b"}]), page(2, [{"orderId": "c", "x": "ü"}])]
        assert replace_partition(conn, "acme-us", DAY, pages, batch_pages=1) == 2
        got = records(conn)
        assert [(p, i, json.loads(j)) for _, _, p, i, j in got] == [
            (1, 1, {"orderId": "a", "n": 1.5}), (1, 2, {"orderId": "b"}), (2, 1, {"orderId": "c", "x": "ü"})]
        # The page count each page claims equals the records it split into.
        assert conn.execute("select sum(order_count) from raw.order_pages").fetchone()[0] == len(got)
        fetched = conn.execute("select distinct r.fetched_at = p.fetched_at from raw.order_records as r "
                               "join raw.order_pages as p using (account_id, partition_date, page_number)").fetchall()
        assert fetched == [(True,)]

        # Re-loading the partition replaces both tables; other partitions are untouched.
        replace_partition(conn, "acme-eu", DAY, [page(1, [{"orderId": "z"}], account_id="acme-eu")])
        replace_partition(conn, "acme-us", DAY, [page(1, [{"orderId": "d"}])])
        assert [(a, json.loads(j)["orderId"]) for a, _, _, _, j in records(conn)] == [("acme-eu", "z"),
                                                                                     ("acme-us", "d")]
        assert conn.execute("select count(*) from raw.order_pages").fetchone()[0] == 2


def test_a_page_row_names_its_landed_file_and_an_older_file_loses_its_page_copies(tmp_path):
    """raw.order_pages keeps a page's request, counts and the landed file that holds it, not the page itself (see
    warehouse.INSERT_PAGES); a warehouse made when it held the page is altered in place, its rows kept."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("create schema raw; create table raw.order_pages (account_id varchar not null, "
                     "partition_date date not null, page_number integer not null, api_version varchar not null, "
                     "attempt_id varchar not null, request_params json not null, request_id varchar, "
                     "fetched_at timestamptz not null, order_count integer not null, is_redacted boolean not null, "
                     "page json not null, operation varchar not null default 'searchOrders', "
                     "primary key (account_id, partition_date, page_number))")
        conn.execute("insert into raw.order_pages values ('acme-eu', '2026-09-30', 1, 'v', 'a', '{}', null, now(), "
                     "1, false, '{\"orders\": [{}]}', 'searchOrders')")
        replace_partition(conn, "acme-us", DAY, [page(1, [{"orderId": "a"}])._replace(
            landed_key="order_pages/account=acme-us/date=2026-10-01/attempt=attempt-1/page-00001.json")])
        columns = [c for (c,) in conn.execute("select column_name from information_schema.columns "
                                              "where table_name = 'order_pages'").fetchall()]
        assert "page" not in columns and "landed_key" in columns
        assert conn.execute("select account_id, order_count, landed_key from raw.order_pages order by all"
                            ).fetchall() == [("acme-eu", 1, None), ("acme-us", 1, "order_pages/account=acme-us/"
                                                                    "date=2026-10-01/attempt=attempt-1/page-00001.json")]


def test_a_page_that_cannot_be_split_rolls_the_whole_partition_back(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        replace_partition(conn, "acme-us", DAY, [page(1, [{"orderId": "kept"}])])
        broken = [page(1, [{"orderId": "new"}]), page(2, [], text='{"orders": {"not": "a list"}}')]
        with pytest.raises(ValueError, match="page 2 of acme-us 2026-10-01 has no 'orders' list"):
            replace_partition(conn, "acme-us", DAY, broken, batch_pages=1)
        assert [json.loads(j)["orderId"] for *_, j in records(conn)] == ["kept"]
        with pytest.raises(ValueError, match="belongs to acme-eu"):
            replace_partition(conn, "acme-us", DAY, [page(1, [], account_id="acme-eu")])
        assert conn.execute("select count(*) from raw.order_pages").fetchone()[0] == 1


def test_values_json_has_no_word_for_still_land_so_they_can_be_quarantined():
    text = ('{"orders": [{"orderId": "a", "proceeds": {"grandTotal": {"amount": NaN}}}, '
            '{"orderId": 12345678901234567890}]}')
    first, second = split_orders(page(1, [None, None], text=text))
    assert json.loads(first)["proceeds"]["grandTotal"]["amount"] == "NaN"
    assert json.loads(second)["orderId"] == 12345678901234567890
    with pytest.raises(ValueError, match="is not a JSON object"):
        split_orders(page(1, [], text="[1, 2]"))


def test_pipeline_steps_take_turns_at_the_file_across_processes(tmp_path):
    db = str(tmp_path / "w.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from amazon_orders_pipeline.warehouse_resource import WarehouseResource;"
         "r = WarehouseResource(database=sys.argv[1]);\nwith r.turn():\n print('held', flush=True); sys.stdin.read()",
         db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = WarehouseResource(database=db, lock_timeout_s=0.5)
        with pytest.raises(WarehouseLockedError, match="in use by another step of the pipeline"):
            with waiting.get_connection():
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # Free again; and a step that holds its turn can open more connections without waiting for itself.
    resource = WarehouseResource(database=db, lock_timeout_s=0.5)
    with resource.turn(), resource.get_connection() as conn:
        conn.execute("create table t as select 1 as x")
        with resource.get_connection(read_only=False) as again:
            assert again is not None
    with resource.get_connection(read_only=True) as conn:
        assert conn.execute("select x from t").fetchall() == [(1,)]


def storage_version(db: str) -> str:
    with duckdb.connect(db, read_only=True) as conn:
        return conn.execute("select tags from duckdb_databases() where path = ?", [db]).fetchone()[0]["storage_version"]


def test_a_new_warehouse_is_written_in_the_pinned_duckdb_file_format(tmp_path):
    """Whoever creates the file, the pipeline or dbt, creates it in DuckDB 1.5's format (faster, smaller writes);
    a file made before keeps its own format, and opens as it is."""
    made_by_pipeline = str(tmp_path / "pipeline.duckdb")
    WarehouseResource(database=made_by_pipeline).connect().close()
    assert storage_version(made_by_pipeline).startswith("v1.5")
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["amazon_orders"]["outputs"]["local"]
    assert profile["config_options"] == warehouse.STORAGE_CONFIG
    # The pipeline's own connections hold to dbt's memory settings, and say so to DuckDB.
    assert {k: profile["settings"][k] for k in warehouse.MEMORY_SETTINGS} == warehouse.MEMORY_SETTINGS
    with warehouse.connect(made_by_pipeline) as conn:
        limit = conn.execute("select current_setting('memory_limit')").fetchone()[0]
    with duckdb.connect() as conn:
        assert limit == conn.execute("set memory_limit = '1GB'; select current_setting('memory_limit')").fetchone()[0]
    older = str(tmp_path / "older.duckdb")
    duckdb.connect(older).close()
    with warehouse.connect(older) as conn:
        conn.execute("create table t as select 1 as x")
    assert storage_version(older).startswith("v1.0")


def test_make_sql_opens_the_warehouse_read_only_in_the_same_duckdb_release(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("create table main.orders as select 'a' as order_id union all select 'b'")
    repo = Path(__file__).resolve().parents[1]

    def make_sql(sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "-s", "sql", f"DUCKDB_PATH={db}"], cwd=repo, input=sql, capture_output=True,
                              text=True, timeout=300)

    read = make_sql(".mode csv\nselect count(*) as n, version() as v from main.orders;\n")
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines()[-1] == f"2,v{duckdb.__version__}"
    write = make_sql("delete from main.orders;\n")
    assert "read-only" in (write.stdout + write.stderr)
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("select count(*) from main.orders").fetchone()[0] == 2
