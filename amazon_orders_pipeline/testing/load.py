"""The load run behind `python -m benchmarks.load` (its docstring says what it runs and prints) and its test:
many accounts x days backfilled through `dagster dev` against one emulator, then compared with the truth."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from amazon_orders_pipeline import warehouse
from amazon_orders_pipeline.assets import build_assets
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.emulator.orders import seller_tag
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.local_services.production import environ_added, production_services
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.dagster_dev import REPO, dagster_dev, rss_mb
from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.truth import marts_and_truth, window_truth

MARKETPLACES = {"NA": ["ATVPDKIKX0DER"], "EU": ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]}


def load_accounts(n: int) -> list[dict]:
    """`n` accounts whose sellers' order ids differ (the marts' order ids are unique across accounts)."""
    accounts, tags, k = [], set(), 0
    while len(accounts) < n:
        k += 1
        account_id = f"load-{k:03d}"
        tag = seller_tag(seller_key(emulator_refresh_token(account_id)))
        if tag in tags:
            continue
        tags.add(tag)
        i = len(accounts)
        region = "NA" if i % 2 == 0 else "EU"
        accounts.append({"id": account_id, "region": region, "marketplace_ids": MARKETPLACES[region],
                         "api_version": "v0" if i % 5 == 4 else "2026-01-01", "pii": i % 4 < 2})
    return accounts


def dagster_yaml(max_concurrent_runs: int | None, backend: str = "duckdb") -> str:
    """The repository's dagster.yaml (dagster.production.yaml on DuckLake), with `max_concurrent_runs` changed if
    asked."""
    config = yaml.safe_load((REPO / ("dagster.production.yaml" if backend == "ducklake" else "dagster.yaml"))
                            .read_text())
    if max_concurrent_runs:
        config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    return yaml.safe_dump(config)


def compare_all(db: warehouse.Location, emulator: Emulator, accounts: list[dict], first_day, days: int) -> dict:
    """Every account's marts against the ground truth of its window [first_day, first_day + days)."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = start + timedelta(days=days)
    mismatched, orders = {}, 0
    with warehouse.connect(db, read_only=True) as conn:
        for account in accounts:
            truth, moved = window_truth(emulator.state, emulator_refresh_token(account["id"]), start, end,
                                        set(account["marketplace_ids"]))
            got, expected = marts_and_truth(conn, account["id"], truth, moved)
            orders += sum(1 for row in expected if row[0] == "order")
            if got != expected or not expected:
                missing, extra = set(expected) - set(got), set(got) - set(expected)
                mismatched[account["id"]] = {"missing": len(missing), "extra": len(extra),
                                             "examples": [str(r) for r in sorted(missing, key=str)[:3]]}
    return {"orders": orders, "mismatched_accounts": mismatched}


def run_load(workdir: Path, n_accounts: int, days: int, orders_per_day: int, speed: float,
             max_concurrent_runs: int | None = None, timeout_s: float = 5400, backend: str = "duckdb") -> dict:
    """`backend` ducklake: the production profile (production.py): DuckLake on PostgreSQL and moto's S3, landing
    and exports in S3, and the Dagster instance in PostgreSQL (dagster.production.yaml)."""
    accounts = load_accounts(n_accounts)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "accounts.yaml").write_text(yaml.safe_dump({"accounts": accounts}, sort_keys=False))
    first_day = datetime.now(UTC).date() - timedelta(days=days)
    peaks = {"session": 0.0, "process": 0.0, "self": 0.0}
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(speed=speed, seed=17, orders_per_day=orders_per_day))
        env = emulator_env(emulator.url, workdir, workdir / "accounts.yaml", first_day.isoformat())
        if backend == "ducklake":
            services = stack.enter_context(production_services())
            instance_env = services.postgres.dagster_env(services.postgres.create_database("dagster"))
            # This process reads the instance too (the backfill's runs and logs), until the run ends.
            stack.enter_context(environ_added(instance_env))
            env.update(services.production_env("load"), **instance_env)
        location = Settings.from_env(env).warehouse
        keys = [list(k.path) for a in build_assets(Settings.from_env({**os.environ, **env})).all for k in a.keys]
        with dagster_dev(env, workdir / "dagster_home", workdir / "dagster-dev.log",
                         dagster_yaml=dagster_yaml(max_concurrent_runs, backend)) as server:

            def sample() -> None:
                sizes = [rss_mb(pid) for pid in server.processes()]
                peaks["session"] = max(peaks["session"], sum(sizes))
                peaks["process"] = max(peaks["process"], max(sizes, default=0.0))
                peaks["self"] = max(peaks["self"], rss_mb(os.getpid()))

            outcome = server.backfill(keys, f"load: {n_accounts} accounts x {days} days", timeout_s=timeout_s,
                                      on_tick=sample, every_s=1.0,
                                      days=(first_day, first_day + timedelta(days=days - 1),
                                            [a["id"] for a in accounts]))
        checked = compare_all(location, emulator, accounts, first_day, days) \
            if outcome.status == "COMPLETED_SUCCESS" else {"orders": None, "mismatched_accounts": None}
    failed = outcome.failed
    return {
        "backend": backend,
        "accounts": n_accounts,
        "v0_accounts": sum(a["api_version"] == "v0" for a in accounts),
        "days": days,
        "partitions": n_accounts * days,
        "orders_per_day": orders_per_day,
        "emulator_speed": speed,
        "max_concurrent_runs": yaml.safe_load(dagster_yaml(max_concurrent_runs, backend))["concurrency"]["runs"][
            "max_concurrent_runs"],
        "backfill_status": outcome.status,
        "runs": len(outcome.runs),
        "raw_runs": len(outcome.raw_runs),
        "succeeded_runs": len(outcome.runs) - len(failed),
        "failed_runs": len(failed),
        "lock_error_runs": len(outcome.lock_errors),
        "all_multiprocess": outcome.all_multiprocess,
        "most_in_flight": outcome.most_in_flight,
        "orders": checked["orders"],
        "marts_match_truth": checked["mismatched_accounts"] == {},
        "mismatched_accounts": checked["mismatched_accounts"],
        "wall_s": round(outcome.wall_s, 1),
        "partitions_per_min": round(n_accounts * days / outcome.wall_s * 60, 2),
        "peak_rss_mb": {k: round(v, 1) for k, v in peaks.items()},
        "failures": {k: v[-1500:] for k, v in list(failed.items())[:3]},
    }


def ok(result: dict) -> bool:
    return not why_not_ok(result)


def why_not_ok(result: dict) -> dict:
    """The figures of a load run that are not as they must be (empty when it is ok), for an assertion message that
    says what failed rather than a truncated result."""
    wrong = {"backfill_status": result["backfill_status"] != "COMPLETED_SUCCESS",
             "failed_runs": result["failed_runs"] != 0,
             "raw_runs": result["raw_runs"] != min(result["accounts"], result["days"]),
             "mismatched_accounts": not result["marts_match_truth"],
             "all_multiprocess": not result["all_multiprocess"]}
    out = {key: result[key] for key, bad in wrong.items() if bad}
    return out | ({"failures": result["failures"]} if out and result.get("failures") else {})
