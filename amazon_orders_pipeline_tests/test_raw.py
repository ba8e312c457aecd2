"""The raw asset end to end: emulator -> landing -> raw.order_pages, with resume, idempotence, PII and secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.extract import ExtractError, Window, change_window, extract_window, redact_pii
from amazon_orders_pipeline.extract.get_orders_v0 import redact_v0_pii
from amazon_orders_pipeline.extract.landing import estimate_progress
from amazon_orders_pipeline.extract.search_orders import PII_ADDRESS_FIELDS
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.stores import LocalStore, S3Store
from amazon_orders_pipeline.testing.runs import materialize_raw, raw_orders


def versions(orders) -> list[tuple[str, str, str]]:
    return sorted((o["orderId"], o["lastUpdatedTime"], o["fulfillment"]["fulfillmentStatus"]) for o in orders)


def table_rows(env: dict[str, str], account_id: str, day) -> list[tuple]:
    """Page number, order count and the orders of each page, read from the landed file its row names. Request ids,
    fetch times and pagination tokens differ between fetches by nature; the data must not."""
    with duckdb.connect(env["DUCKDB_PATH"], read_only=True) as conn:
        rows = conn.execute(
            "select page_number, order_count, landed_key from raw.order_pages "
            "where account_id = ? and partition_date = ? order by page_number", [account_id, day]).fetchall()
    landing = LocalStore(env["LANDING_DIR"])
    return [(n, count, json.loads(landing.get(key))["orders"]) for n, count, key in rows]


class TestWindows:
    def test_a_partition_is_the_half_open_utc_day(self):
        day = datetime(2026, 11, 20).date()
        w = change_window(day, now=datetime(2026, 11, 23, 8, tzinfo=UTC))
        assert (w.start, w.end) == (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))

    def test_the_end_is_clamped_to_two_minutes_before_now(self):
        day = datetime(2026, 11, 20).date()
        w = change_window(day, now=datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC))
        assert w.end <= datetime(2026, 11, 20, 9, 58, tzinfo=UTC) and w.end > w.start
        with pytest.raises(ExtractError, match="has not opened yet"):
            change_window(day, now=datetime(2026, 11, 20, 0, 1, tzinfo=UTC))


def test_progress_estimates_the_pages_left_from_the_window_covered_and_the_quota():
    start = datetime(2026, 11, 20, tzinfo=UTC)
    window = Window(start, start + timedelta(days=1))
    per_page = 180.0  # searchOrders after its burst

    def quota(n):
        return n * per_page

    # 6 of 24 hours covered by 100 orders: about 300 more orders, 3 more pages of 100, 540 s.
    assert estimate_progress(window, start + timedelta(hours=6), 100, 100, quota) == (0.25, 3, 540.0)
    assert estimate_progress(window, start + timedelta(hours=24), 250, 100, quota) == (1.0, 0, 0.0)
    assert estimate_progress(window, None, 0, 100, quota) == (None, None, None)


class TestOrderPagesAsset:
    def test_landed_orders_equal_the_ground_truth_for_both_accounts(self, pipeline_env, control, past_day):
        for account_id, marketplaces in (("acme-us", ["ATVPDKIKX0DER"]),
                                         ("acme-eu", ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"])):
            instance = dg.DagsterInstance.ephemeral()
            result = materialize_raw(pipeline_env, past_day, account_id, instance=instance)
            got = raw_orders(pipeline_env["DUCKDB_PATH"], account_id, past_day)
            truth = control.ground_truth_day(account_id, past_day, marketplaces)
            assert truth and versions(got) == versions(truth)
            meta = result.asset_materializations_for_node("amazon_sp_api__landed_order_pages")[0].metadata
            # A progress line per page, the last one saying the whole window is done.
            progress = [e.user_message for e in instance.all_logs(result.run_id)
                        if "landed page" in (e.user_message or "")]
            assert len(progress) == meta["pages"].value
            assert "100% of the window covered, about 0 more pages, ~0 s left" in progress[-1]
            assert f"{len(truth)} orders so far" in progress[-1]
            assert meta["orders"].value == len(truth)
            assert meta["pages"].value == len(table_rows(pipeline_env, account_id, past_day))
            assert meta["calls"].value >= meta["pages"].value
            for name in ("throttled_calls", "retries", "quota_wait_s", "resumed_pages"):
                assert isinstance(meta[name].value, int | float)

    def test_pii_is_removed_before_landing_unless_the_account_has_it_on(self, pipeline_env, past_day):
        materialize_raw(pipeline_env, past_day, "acme-us")  # pii: false
        materialize_raw(pipeline_env, past_day, "acme-eu")  # pii: true
        off = raw_orders(pipeline_env["DUCKDB_PATH"], "acme-us", past_day)
        on = raw_orders(pipeline_env["DUCKDB_PATH"], "acme-eu", past_day)
        for order in off:
            address = order["recipient"]["deliveryAddress"]
            assert not set(PII_ADDRESS_FIELDS) & set(address) and "buyer" not in order
            assert address["city"] and address["countryCode"]
        assert all(order["recipient"]["deliveryAddress"].get("name") for order in on)
        assert any(order.get("buyer", {}).get("buyerName") for order in on)
        pages = [json.loads(p.read_text()) for p in Path(pipeline_env["LANDING_DIR"]).rglob("*acme-us*/**/*.json")]
        for page in pages:  # the seller's own warehouse, which packages ship from, is no one's personal data
            for order in page.get("orders") or []:
                for package in order.get("packages") or []:
                    assert package.pop("shipFromAddress")["name"] == "Acme Warehouse"
        landing_text = json.dumps(pages)
        assert "buyerName" not in landing_text and "postalCode" not in landing_text
        # A business buyer's tax registration is PII too: only the seller's own stays, which the US does not have.
        assert '"entityType": "BUYER"' not in landing_text and "taxRegistrations" in landing_text

    def test_rematerializing_gives_the_same_rows(self, pipeline_env, past_day):
        materialize_raw(pipeline_env, past_day, "acme-us")
        first = table_rows(pipeline_env, "acme-us", past_day)
        materialize_raw(pipeline_env, past_day, "acme-us")
        second = table_rows(pipeline_env, "acme-us", past_day)
        assert first == second and first
        with duckdb.connect(pipeline_env["DUCKDB_PATH"], read_only=True) as conn:
            attempts = conn.execute("select count(distinct attempt_id), count(*) from raw.order_pages").fetchone()
        assert attempts == (1, len(first))  # the partition was replaced, not appended to

    def test_an_interrupted_run_resumes_from_the_landed_pages(self, pipeline_env, emulator, control, past_day):
        env = dict(pipeline_env)
        sp_api = build_resources(Settings.from_env(env))["sp_api"]
        account = sp_api.accounts()["acme-eu"]
        landing = LocalStore(env["LANDING_DIR"])

        class Crash(Exception):
            pass

        def crash_after_two(progress):
            if progress.page.number == 2:
                raise Crash

        interrupted = sp_api.client_for(account)
        with pytest.raises(Crash):
            extract_window(interrupted, landing, account_id="acme-eu", day=past_day,
                           marketplace_ids=account.marketplace_ids, pii=True, on_page=crash_after_two)
        calls_before = control.stats()["searchOrders.calls"]
        result = materialize_raw(env, past_day, "acme-eu")
        resumed_calls = control.stats()["searchOrders.calls"] - calls_before
        meta = result.asset_materializations_for_node("amazon_sp_api__landed_order_pages")[0].metadata
        assert meta["resumed_pages"].value == 2
        assert resumed_calls == meta["pages"].value - 2  # only the pages not yet landed were fetched
        got = raw_orders(env["DUCKDB_PATH"], "acme-eu", past_day)
        assert versions(got) == versions(control.ground_truth_day("acme-eu", past_day, account.marketplace_ids))
        assert len({o["orderId"] for o in got}) == len(got)

    def test_a_refused_pagination_token_restarts_the_window_cleanly(self, pipeline_env, control, past_day):
        sp_api = build_resources(Settings.from_env(pipeline_env))["sp_api"]
        account = sp_api.accounts()["acme-eu"]
        landing = LocalStore(pipeline_env["LANDING_DIR"])

        def crash_after_one(progress):
            if progress.page.number == 1:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            extract_window(sp_api.client_for(account), landing, account_id="acme-eu", day=past_day,
                           marketplace_ids=account.marketplace_ids, pii=True, on_page=crash_after_one)
        control.set_clock(datetime.now(UTC) + timedelta(hours=25))  # Amazon now refuses the stored token
        result = extract_window(sp_api.client_for(account), landing, account_id="acme-eu", day=past_day,
                                marketplace_ids=account.marketplace_ids, pii=True)
        assert result.restarted and result.resumed_pages == 0
        got = [o for p in result.pages for o in json.loads(landing.get(p.key))["orders"]]
        assert versions(got) == versions(control.ground_truth_day("acme-eu", past_day, account.marketplace_ids))

    def test_a_page_that_stays_unreadable_fails_the_run_naming_it(self, pipeline_env, control, past_day):
        control.faults(truncate=1.0)
        result = materialize_raw(pipeline_env, past_day, "acme-us", raise_on_error=False)
        assert not result.success
        failure = result.get_step_failure_events()[0].step_failure_data.error.message
        assert "acme-us" in failure and past_day.isoformat() in failure and "page 1" in failure
        assert "unreadable body" in failure

    def test_no_secret_or_access_token_reaches_logs_metadata_landing_or_duckdb(
            self, pipeline_env, emulator, past_day, tmp_path, monkeypatch):
        secret = "Atzr|refresh-SECRET-4c1d2e"
        client_secret = "amzn1.oa2-cs.v1.CLIENT-SECRET-9f8e7d"
        monkeypatch.setenv("SP_API_ACME_US_CLIENT_ID", "amzn1.application-oa2-client.test")
        monkeypatch.setenv("SP_API_ACME_US_CLIENT_SECRET", client_secret)
        monkeypatch.setenv("SP_API_ACME_US_REFRESH_TOKEN", secret)
        home = tmp_path / "dagster_home"
        home.mkdir()
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = materialize_raw(pipeline_env, past_day, "acme-us", instance=instance)
            assert result.success
            events = instance.all_logs(result.run_id)
            text = "\n".join(str(e) for e in events)
        issued = list(emulator.state.issued_tokens)
        assert issued, "the run used real credentials, so the emulator issued tokens"
        needles = [secret, client_secret, *issued]
        haystacks = [text]
        for root in (home, Path(pipeline_env["LANDING_DIR"]), Path(pipeline_env["DUCKDB_PATH"]).parent):
            haystacks.extend(p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file())
        assert len(haystacks) > 5
        for needle in needles:
            assert not any(needle in h for h in haystacks), "a secret was stored"


def test_pages_land_in_s3_through_moto(pipeline_env, control, past_day, moto_s3):
    endpoint, client = moto_s3
    env = {**pipeline_env, "LANDING_S3_URI": "s3://landing/amazon", "LANDING_S3_ENDPOINT_URL": endpoint}
    materialize_raw(env, past_day, "acme-us")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="landing")["Contents"]]
    pages = [k for k in keys if k.endswith(".json") and "/page-" in k and not k.endswith(".meta.json")]
    assert pages and all(k.startswith("amazon/order_pages/account=acme-us/") for k in pages)
    landed = [o for k in sorted(pages) for o in json.loads(client.get_object(Bucket="landing", Key=k)["Body"].read())
              ["orders"]]
    assert versions(landed) == versions(raw_orders(env["DUCKDB_PATH"], "acme-us", past_day))
    assert versions(landed) == versions(control.ground_truth_day("acme-us", past_day, ["ATVPDKIKX0DER"]))
    store = S3Store("s3://landing/amazon", endpoint_url=endpoint)
    assert store.get("does/not/exist") is None
    assert not Path(pipeline_env["LANDING_DIR"]).exists()


def test_redaction_keeps_what_the_address_table_needs():
    page = {"orders": [{"buyer": {"buyerName": "X"}, "recipient": {"deliveryAddress": {
        "name": "X", "addressLine1": "1 St", "postalCode": "1", "phone": "1", "city": "C", "stateOrRegion": "S",
        "countryCode": "US", "addressType": "RESIDENTIAL"}}, "orderItems": [
        {"fulfillment": {"packing": {"giftOption": {"giftMessage": "hi", "giftWrapLevel": "Classic"}}},
         "product": {"customization": {}}}]}]}
    out = redact_pii(page)["orders"][0]
    assert out["recipient"]["deliveryAddress"] == {"city": "C", "stateOrRegion": "S", "countryCode": "US",
                                                   "addressType": "RESIDENTIAL"}
    assert "buyer" not in out and out["orderItems"][0] == {
        "fulfillment": {"packing": {"giftOption": {"giftWrapLevel": "Classic"}}}, "product": {}}


def test_v0_redaction_keeps_gift_wrap_money_and_drops_the_message():
    page = {"payload": {"AmazonOrderId": "1", "OrderItems": [
        {"OrderItemId": "a", "BuyerInfo": {"GiftWrapPrice": {"CurrencyCode": "EUR", "Amount": "3.67"},
                                           "GiftWrapTax": {"CurrencyCode": "EUR", "Amount": "0.70"},
                                           "GiftWrapLevel": "Classic", "GiftMessageText": "Happy birthday!",
                                           "BuyerCustomizedInfo": {"CustomizedURL": "https://x"}}},
        {"OrderItemId": "b", "BuyerInfo": {"GiftMessageText": "hi"}}]}}
    items = redact_v0_pii(page)["payload"]["OrderItems"]
    assert items[0]["BuyerInfo"] == {"GiftWrapPrice": {"CurrencyCode": "EUR", "Amount": "3.67"},
                                     "GiftWrapTax": {"CurrencyCode": "EUR", "Amount": "0.70"},
                                     "GiftWrapLevel": "Classic"}
    assert items[1] == {"OrderItemId": "b"}


def test_late_days_are_refused_with_a_clear_error(pipeline_env):
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    landing = LocalStore(pipeline_env["LANDING_DIR"])
    sp_api = build_resources(Settings.from_env(pipeline_env))["sp_api"]
    with pytest.raises(ExtractError, match="not opened yet"):
        extract_window(sp_api.client_for(sp_api.accounts()["acme-us"]), landing, account_id="acme-us",
                       day=tomorrow, marketplace_ids=["ATVPDKIKX0DER"], pii=False)
    assert emulator_refresh_token("x") == "emulator-refresh-x"


class ReadOnlySession:
    """An analyst's `duckdb -readonly` session: another process holding the file read-only."""

    def __init__(self, db: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                                   "print('open', flush=True); sys.stdin.read()", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "open"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def test_a_reader_holding_the_file_delays_the_load_and_one_that_stays_fails_it_clearly(pipeline_env, past_day):
    materialize_raw(pipeline_env, past_day, "acme-us")
    before = table_rows(pipeline_env, "acme-us", past_day)

    # The reader lets go while the load waits: the load goes through, and says that it waited.
    reader = ReadOnlySession(pipeline_env["DUCKDB_PATH"])
    timer = threading.Timer(2.0, reader.close)
    timer.start()
    instance = dg.DagsterInstance.ephemeral()
    try:
        result = materialize_raw(pipeline_env, past_day, "acme-us", instance=instance)
    finally:
        timer.join()
    assert result.success
    assert any("is locked by another process; waiting" in (e.user_message or "")
               for e in instance.all_logs(result.run_id))
    assert table_rows(pipeline_env, "acme-us", past_day) == before

    # A reader that stays: after DUCKDB_LOCK_TIMEOUT_S the load fails and names the holder; the pages stay landed.
    reader = ReadOnlySession(pipeline_env["DUCKDB_PATH"])
    try:
        failed = materialize_raw({**pipeline_env, "DUCKDB_LOCK_TIMEOUT_S": "1"}, past_day, "acme-us",
                                 raise_on_error=False)
    finally:
        reader.close()
    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "stayed locked by another process for 1 s" in message and f"PID {reader.proc.pid}" in message
    state = json.loads((Path(pipeline_env["LANDING_DIR"]) / "order_pages" / "account=acme-us"
                        / f"date={past_day.isoformat()}" / "CURRENT.json").read_text())
    assert state["status"] == "fetched"  # the next attempt loads these pages without calling Amazon
    assert materialize_raw(pipeline_env, past_day, "acme-us").success
