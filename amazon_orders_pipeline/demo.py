"""`make demo`: start the embedded emulator, materialize the last complete UTC days through the exports, run one
pass of each write to Amazon over its inbox (the ERP's write-back, the web shop's MCF orders), summarise.

`make demo-lake` (`--lake`): the same on the production profile, its services started here on loopback and gone
when it ends: DuckLake (catalog in a throwaway PostgreSQL cluster, data in moto's S3), landing, exports and inboxes
in S3, and the Dagster instance in PostgreSQL (dagster.production.yaml)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.assets.keys import EXPORT_KEYS, MCF_KEY, WRITEBACK_KEY
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.local_runs import (
    materialize_finances,
    materialize_raw,
    materialize_return_models,
    materialize_returns,
    materialize_transform,
    materialize_writes,
)
from amazon_orders_pipeline.local_services.production import production_services
from amazon_orders_pipeline.resources import build_resources
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.warehouse import mart_row_counts

REPO = Path(__file__).resolve().parents[1]


def last_complete_days(n: int, today: date | None = None) -> list[date]:
    today = today or datetime.now(UTC).date()
    return [today - timedelta(days=i) for i in range(n, 0, -1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amazon_orders_pipeline.demo", description=__doc__)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--speed", type=float, default=200.0, help="emulator quota speed-up")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--lake", action="store_true", help="the production profile (see above)")
    args = parser.parse_args(argv)

    emulator = Emulator(speed=args.speed, seed=args.seed).start()
    saved = dict(os.environ)
    try:
        # The demo always talks to its own emulator, whatever credentials the shell has.
        for name in [n for n in os.environ if n.startswith("SP_API_")]:
            del os.environ[name]
        os.environ["SP_API_ENDPOINT"] = emulator.url
        os.environ["LWA_TOKEN_URL"] = f"{emulator.url}/auth/o2/token"
        if not args.lake:
            return run(args, dict(os.environ), emulator)
        with production_services() as services, tempfile.TemporaryDirectory(prefix="demo-lake-") as home:
            os.environ.update(services.production_env("demo"),
                              **services.postgres.dagster_env(services.postgres.create_database("dagster")))
            shutil.copy(REPO / "dagster.production.yaml", Path(home) / "dagster.yaml")
            print(f"Production profile: PostgreSQL on 127.0.0.1:{services.postgres.port}, S3 (moto) at "
                  f"{services.s3_endpoint}; both end with the demo")
            return run(args, dict(os.environ), emulator, instance=dg.DagsterInstance.from_config(home))
    finally:
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved)


def run(args: argparse.Namespace, environ: dict[str, str], emulator: Emulator,
        instance: dg.DagsterInstance | None = None) -> int:
    settings = Settings.from_env(environ)
    location = settings.warehouse
    if settings.lake is None:
        Path(settings.duckdb_path).parent.mkdir(parents=True, exist_ok=True)

    resources = build_resources(settings)
    accounts = [a.id for a in load_accounts(settings.accounts_file)]
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    days = last_complete_days(args.days)
    print(f"SP-API emulator at {emulator.url}, quotas running {args.speed:g}x faster than Amazon's "
          f"(searchOrders {0.0056 * args.speed:.2f}/s instead of 0.0056/s)")
    failed = []
    exported: dict[str, dict] = {}
    with instance:
        for day in days:
            for account_id in accounts:
                result = materialize_raw(day, account_id, environ=environ, resources=resources, instance=instance,
                                         raise_on_error=False)
                print(f"  extract {day} {account_id}: {'ok' if result.success else 'FAILED'}")
                if not result.success:
                    failed.append(f"{day} {account_id}")
        # One dbt run over the whole range, as a backfill with the single-run policy does.
        result = materialize_transform(days[0], days[-1], environ=environ, resources=resources, instance=instance,
                                       raise_on_error=False)
        print(f"  transform and export {days[0]}..{days[-1]}: {'ok' if result.success else 'FAILED'}")
        if not result.success:
            failed.append("transform")
        for event in result.get_asset_materialization_events():
            if event.asset_key in EXPORT_KEYS:
                meta = event.materialization.metadata
                exported[event.asset_key.to_user_string()] = {
                    "rows": meta["rows"].value, "files": meta["files"].value, "location": meta["location"].value}
        failed += run_money(days, accounts, environ, resources, instance)
        failed += run_returns(days, accounts, environ, resources, instance)
        # One pass of each write to Amazon, over their inboxes (empty unless files were dropped there): the ERP's
        # shipments and cancellations, and the web shop's MCF orders.
        writes = {}
        for key in (WRITEBACK_KEY, MCF_KEY):
            result = materialize_writes(key, environ=environ, resources=resources, instance=instance,
                                        raise_on_error=False)
            print(f"  {key.to_user_string()}: {'ok' if result.success else 'FAILED'}")
            if not result.success:
                failed.append(key.to_user_string())
            for event in result.get_asset_materialization_events():
                writes[key.to_user_string()] = {k: v.value for k, v in event.materialization.metadata.items()}

    with warehouse.connect(location, read_only=True) as conn:
        pages, orders = conn.execute(
            "select count(*), coalesce(sum(order_count), 0) from raw.order_pages "
            "where partition_date >= ? and partition_date <= ?", [days[0], days[-1]]).fetchone()
        marts = mart_row_counts(conn) if not failed else {}
        quarantined = conn.execute("select count(*) from staging.quarantine").fetchone()[0] if not failed else 0
        money = {**money_counts(conn), **returns_counts(conn)} if not failed else {}
    print()
    print("Demo summary")
    print(f"  partitions      : {len(days)} days ({days[0]} .. {days[-1]}) x {len(accounts)} account(s), "
          f"{len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    print(f"  pages           : {pages}")
    print(f"  raw orders      : {orders} (order versions in the raw pages)")
    for table, count in marts.items():
        print(f"  {table:<16}: {count} rows")
    print(f"  quarantine      : {quarantined} records")
    for table, count in money.items():
        print(f"  {table:<16}: {count}")
    for name, info in exported.items():
        print(f"  {name}: {info['rows']} rows in {info['files']} files under {info['location']}")
    if MCF_KEY.to_user_string() in writes:
        wb, mcf = writes[WRITEBACK_KEY.to_user_string()], writes[MCF_KEY.to_user_string()]
        print(f"  write-back      : {wb['files']} inbox file(s), {wb['shipments_sent']} shipment(s) sent, "
              f"{wb['refused']} refused")
        print(f"  mcf             : {mcf['files']} inbox file(s), {mcf['submitted']} fulfillment order(s) sent")
    print(f"  warehouse       : {Path(location).resolve() if settings.lake is None else warehouse.describe(location)}")
    print(f"  quotas          : emulator at {args.speed:g}x Amazon's documented rates")
    print(f"  wall time       : {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


def run_money(days: list[date], accounts: list[str], environ: dict[str, str], resources: dict,
              instance: dg.DagsterInstance) -> list[str]:
    """The money after the sale of as many posted days as the demo's, the newest past Amazon's 48-hour listing lag.
    Returns what failed."""
    money_days = [day - timedelta(days=2) for day in days]
    results = materialize_finances(money_days[0], money_days[-1], accounts, environ=environ, resources=resources,
                                   instance=instance, raise_on_error=False)
    ok = all(result.success for result in results)
    print(f"  money {money_days[0]}..{money_days[-1]}: {'ok' if ok else 'FAILED'}")
    return [] if ok else ["finances"]


def run_returns(days: list[date], accounts: list[str], environ: dict[str, str], resources: dict,
                instance: dg.DagsterInstance) -> list[str]:
    """Both returns reports over the demo's days (returns of older orders among them), then the returns models.
    Returns what failed."""
    reads = materialize_returns(days[0], days[-1], accounts, environ=environ, resources=resources, instance=instance,
                                raise_on_error=False)
    models = materialize_return_models(days[0], days[-1], environ=environ, resources=resources, instance=instance,
                                       raise_on_error=False) if reads.success else None
    ok = reads.success and models is not None and models.success
    print(f"  returns {days[0]}..{days[-1]}: {'ok' if ok else 'FAILED'}")
    return [] if ok else ["returns"]


def returns_counts(conn) -> dict[str, str]:
    """order_returns' rows, and what they hold, for the summary."""
    rows, units, older, paired = conn.execute(
        "select count(*), coalesce(sum(quantity), 0), count(*) filter (where not order_known), "
        "count(*) filter (where refund_transaction_id is not null) from main.order_returns").fetchone()
    return {"order_returns": f"{rows} rows ({units} units; {paired} paired with a refund, {older} of orders older "
                             "than the demo's days)"}


def money_counts(conn) -> dict[str, str]:
    """The money marts' rows, and what they hold, for the summary."""
    transactions = conn.execute("select count(*) from staging.stg_amazon_sp_api__transactions").fetchone()[0]
    orders, refunds, deferred = conn.execute(
        "select count(*), count(*) filter (where refund_count > 0), count(*) filter (where deferred_amount <> 0) "
        "from main.order_financials").fetchone()
    fees = conn.execute("select count(*) from main.account_fees").fetchone()[0]
    return {"transactions": f"{transactions} (latest versions)",
            "order_financials": f"{orders} rows ({refunds} with a refund, {deferred} with money deferred)",
            "account_fees": f"{fees} rows"}


if __name__ == "__main__":
    sys.exit(main())
