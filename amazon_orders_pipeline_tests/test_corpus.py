"""The bad-input corpus, served by the emulator as page bodies: each case is loaded, quarantined with its reason, or
fails the run with a clear message, and nothing vanishes on the way (raw = staged + quarantined)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from amazon_orders_pipeline.testing.runs import fast_resources as resources_for
from amazon_orders_pipeline.testing.runs import materialize_raw, materialize_transform, query

from .corpus import cases

CASES = cases()
# A failing page is served to every retry of the call.
RETRIES = 8


def account(index: int) -> str:
    return f"corpus-{index:02d}"


def with_own_ids(body: bytes, index: int) -> bytes:
    """Each case's orders get ids of their own, so the marts' order ids stay unique across cases."""
    return body.replace(b"111-0000000-", f"111-{index:07d}-".encode())


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(e.event_specific_data.error.message for e in result.all_events
                     if e.event_type == dg.DagsterEventType.STEP_FAILURE)


@pytest.fixture
def corpus_env(tmp_path, pipeline_env):
    accounts = tmp_path / "corpus-accounts.yaml"
    accounts.write_text("accounts:\n" + "".join(
        f"  - id: {account(i)}\n    region: NA\n    marketplace_ids: [ATVPDKIKX0DER]\n" for i in range(len(CASES))))
    return {**pipeline_env, "ACCOUNTS_FILE": str(accounts)}


@pytest.mark.slow  # every bad input through the whole pipeline
def test_every_corpus_case_reaches_its_outcome_and_nothing_vanishes(corpus_env, emulator):
    assert len(CASES) >= 40
    day = datetime.now(UTC).date() - timedelta(days=6)
    state = emulator.state
    failures = {}
    for index, case in enumerate(CASES):
        bodies = [with_own_ids(b, index) for b in case.pages]
        state.inject_pages(bodies * (RETRIES if case.outcome == "fails" else 1))
        result = materialize_raw(corpus_env, day, account(index), raise_on_error=False)
        while state.next_injected_page() is not None:  # what a failed run left unread
            pass
        if case.outcome == "fails":
            failures[case.name] = (result.success, failure_message(result))
        else:
            assert result.success, f"{case.name}: {failure_message(result)}"
    for case in CASES:
        if case.outcome == "fails":
            success, message = failures[case.name]
            assert not success and case.message in message, f"{case.name}: {message[:300]}"
            assert "page 1" in message  # it names the page

    result = materialize_transform(corpus_env, day, raise_on_error=False)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["raw_orders_are_all_staged_or_quarantined"].passed
    db = corpus_env["DUCKDB_PATH"]
    for index, case in enumerate(CASES):
        acct = account(index)
        raw = query(db, "select count(*) from raw.order_records where account_id = ?", [acct])[0][0]
        staged = query(db, "select count(*) from staging.stg_amazon_sp_api__orders where account_id = ?", [acct])[0][0]
        reasons = [r for (r,) in query(db, "select reason from staging.quarantine where account_id = ?", [acct])]
        if case.outcome == "fails":
            assert raw == 0, case.name
            continue
        expected = sum(len(json.loads(p)["orders"]) for p in case.pages) if case.staged == -1 else case.staged
        assert staged == expected, f"{case.name}: staged {staged}, quarantined {reasons}"
        assert len(reasons) == sum(case.reasons.values()), f"{case.name}: {reasons}"
        for fragment, count in case.reasons.items():
            assert sum(fragment in r for r in reasons) == count, f"{case.name}: {reasons}"
        assert raw == staged + len(reasons)
    # The order that changed between pages shows its later state; a repeated order is one row.
    changed = CASES.index(next(c for c in CASES if c.name.startswith("an order that changes")))
    assert query(db, "select order_status from main.orders where account_id = ? and order_id like '%0000005'",
                 [account(changed)]) == [("SHIPPED",)]
    repeated = CASES.index(next(c for c in CASES if c.name == "the same order on two pages"))
    assert query(db, "select count(*) from main.orders where account_id = ?", [account(repeated)]) == [(3,)]


def test_resources_for_the_corpus_retry_as_often_as_pages_are_served(corpus_env):
    assert resources_for(corpus_env)["sp_api"].max_attempts == RETRIES
