"""Secret and PII scans after full runs with credentials set: extract, load, dbt and exports, for v2026 and v0 accounts
(one with an RDT). No refresh token, client secret, access token or RDT is stored anywhere: Dagster's event log and
compute logs, the landing area, the DuckDB file, the exports. With PII off, no buyer name, email, street, phone or
postal code is either."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amazon_orders_pipeline.testing.env import emulator_env
from amazon_orders_pipeline.testing.runs import materialize_raw, materialize_transform

# The whole pipeline, then every store scanned: in the full suite, not the quick lane.
pytestmark = pytest.mark.slow

ACCOUNTS = {
    # id: (api_version, pii)
    "rdt-v0": ("v0", True),
    "off-v2026": ("2026-01-01", False),
    "off-v0": ("v0", False),
}


def refresh_token(account_id: str) -> str:
    return f"Atzr|IwEBI-refresh-{account_id}-SECRET-77c1"


def client_secret(account_id: str) -> str:
    return f"amzn1.oa2-cs.v1.{account_id}-CLIENT-SECRET-0b9e"


def pipeline_env(tmp_path: Path, emulator, name: str, account_ids: list[str]) -> dict[str, str]:
    accounts = tmp_path / f"{name}.yaml"
    accounts.write_text("accounts:\n" + "".join(
        f"  - id: {a}\n    region: EU\n    marketplace_ids: [A1F83G8C2ARO7P, A1PA6795UKMFR9]\n"
        f"    api_version: \"{ACCOUNTS[a][0]}\"\n    pii: {str(ACCOUNTS[a][1]).lower()}\n" for a in account_ids))
    return emulator_env(emulator.url, tmp_path / name, accounts)


def run_everything(env: dict[str, str], account_ids: list[str], days: list, home: Path) -> None:
    """Every raw partition, then dbt, checks and exports over the days, on a Dagster instance kept on disk."""
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for day in days:
            for account_id in account_ids:
                assert materialize_raw(env, day, account_id, instance=instance).success
        assert materialize_transform(env, days[0], days[-1], instance=instance).success


def file_texts(*roots: Path) -> dict[Path, str]:
    return {p: p.read_bytes().decode("latin-1") for root in roots for p in root.rglob("*") if p.is_file()}


def duckdb_text(db: str) -> str:
    """Every row of every table and view, as text: values in the file itself may be compressed past a byte scan."""
    with duckdb.connect(db, read_only=True) as conn:
        tables = conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
        chunks = []
        for schema, table in tables:
            # Identifiers from the catalog itself; there is no value to pass as a parameter.
            statement = f'select cast(t as varchar) from "{schema}"."{table}" as t'
            rows = conn.execute(statement).fetchall()
            chunks.extend(r[0] for r in rows)
    assert len(tables) >= 10
    return "\n".join(chunks)


def pii_values(orders: list[dict]) -> set[str]:
    """What Amazon counts as PII in these orders, as the emulator knows them in full."""
    values = set()
    for o in orders:
        buyer, address = o.get("buyer", {}), o.get("recipient", {}).get("deliveryAddress", {})
        values.update(v for v in (buyer.get("buyerName"), buyer.get("buyerEmail"), address.get("name"),
                                  address.get("addressLine1"), address.get("phone"), address.get("postalCode")) if v)
    return values


def test_no_secret_and_with_pii_off_no_pii_is_stored_anywhere(tmp_path, emulator, control, monkeypatch):
    for account_id in ACCOUNTS:
        upper = account_id.upper().replace("-", "_")
        monkeypatch.setenv(f"SP_API_{upper}_CLIENT_ID", f"amzn1.application-oa2-client.{account_id}")
        monkeypatch.setenv(f"SP_API_{upper}_CLIENT_SECRET", client_secret(account_id))
        monkeypatch.setenv(f"SP_API_{upper}_REFRESH_TOKEN", refresh_token(account_id))
    first = datetime.now(UTC).date() - timedelta(days=7)
    days = [first, first + timedelta(days=1)]
    # PII on (with an RDT) and PII off live in warehouses of their own, so that a PII-off scan can read every byte.
    envs = {"on": ["rdt-v0"], "off": ["off-v2026", "off-v0"]}
    haystacks: dict[str, dict[str, str]] = {}
    for name, account_ids in envs.items():
        env = pipeline_env(tmp_path, emulator, name, account_ids)
        home = tmp_path / name / "dagster_home"
        home.mkdir(parents=True)
        run_everything(env, account_ids, days, home)
        files = file_texts(home, Path(env["LANDING_DIR"]), Path(env["EXPORT_DIR"]), Path(env["DUCKDB_PATH"]).parent)
        assert any("compute_logs" in str(p) or p.suffix in (".out", ".err") for p in files), "no compute logs"
        assert any(p.suffix == ".db" for p in files) and any("exports" in p.parts for p in files)
        haystacks[name] = {**{str(p): t for p, t in files.items()}, "duckdb rows": duckdb_text(env["DUCKDB_PATH"])}

    issued = list(emulator.state.issued_tokens)
    assert any(t.startswith("Atz.sprdt|") for t in issued), "the PII-on v0 account asked for an RDT"
    secrets = [*issued, *(refresh_token(a) for a in ACCOUNTS), *(client_secret(a) for a in ACCOUNTS)]
    for texts in haystacks.values():
        for where, text in texts.items():
            found = [s[:16] for s in secrets if s in text]
            assert not found, f"secrets {found} in {where}"

    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    off_pii = set()
    for account_id in envs["off"]:
        orders = control.ground_truth(refresh_token(account_id), start, start + timedelta(days=2),
                                      ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"])
        off_pii |= pii_values(orders)
    assert len(off_pii) > 500
    # Whole words only: a postal code such as 10115 may well be part of an order id.
    for where, text in haystacks["off"].items():
        found = [(v, context_of(text, v)) for v in off_pii if contains_word(text, v)]
        assert not found, f"PII {found[:3]} in {where}"
    # The same scan finds PII where PII is on, so it is not blind.
    on_orders = control.ground_truth(refresh_token("rdt-v0"), start, start + timedelta(days=2),
                                     ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"])
    assert any(contains_word(haystacks["on"]["duckdb rows"], v) for v in pii_values(on_orders) if "@" in v)


def word_at(text: str, value: str) -> int:
    """Where `value` stands in `text` as a word: no letter, digit, '-' or '_' right before or after it, and not the
    digits of a decimal fraction (a timestamp's microseconds 733010 print as '.73301', which is not a postal code)."""
    start = 0
    while (i := text.find(value, start)) != -1:
        before, after = text[max(0, i - 2): i], text[i + len(value): i + len(value) + 2]
        fraction = before[-1:] == "." and before[:1].isdigit() or after[:1] == "." and after[1:].isdigit()
        if not fraction and not any(c.isalnum() or c in "-_" for c in before[-1:] + after[:1]):
            return i
        start = i + 1
    return -1


def contains_word(text: str, value: str) -> bool:
    return word_at(text, value) != -1


def context_of(text: str, value: str) -> str:
    i = word_at(text, value)
    return text[max(0, i - 80): i + len(value) + 80]


def test_the_scan_finds_a_postal_code_as_a_word_but_not_in_a_timestamps_microseconds():
    # A CI run once failed on fetched_at '… 10:15:22.73301+00' (microseconds 733010) against the postal code 73301.
    assert not contains_word("{'fetched_at': '2026-11-18 10:15:22.73301+00'}", "73301")
    assert not contains_word("elapsed 0.73301 s, order 123-4573301-1", "73301")
    for text in ('{"postalCode": "73301"}', "ship to Austin TX 73301.", "73301,Austin"):
        assert contains_word(text, "73301"), text
