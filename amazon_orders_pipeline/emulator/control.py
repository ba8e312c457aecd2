"""The emulator's own controls under /_emulator/ (not part of SP-API): its clock, faults, injected pages,
notification faults and publishing, call counts, what the seller's actions left, and the ground truth (orders,
money, returns)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from amazon_orders_pipeline.emulator import returns
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.faults import FaultPlan
from amazon_orders_pipeline.emulator.http import Call, Reply, plain
from amazon_orders_pipeline.emulator.money_truth import truth_report
from amazon_orders_pipeline.emulator.orders import iso
from amazon_orders_pipeline.emulator.publishing import NotificationFaults


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _body(call: Call) -> dict:
    return json.loads(call.request.body or b"{}")


def clock(call: Call) -> Reply:
    if call.request.method == "POST":
        call.state.clock.set(_when(_body(call)["now"]))
    return Reply(200, {"now": iso(call.state.clock.now())})


def faults(call: Call) -> Reply:
    try:
        call.state.faults.configure(FaultPlan.from_dict(_body(call)))
    except (TypeError, ValueError) as e:
        return Reply(400, {"error": str(e)})
    return Reply(200, call.state.faults.plan.to_dict())


def pages(call: Call) -> Reply:
    """{"bodies": [base64, ...]}: the next searchOrders responses, byte for byte."""
    bodies = _body(call)["bodies"]
    call.state.inject_pages([base64.b64decode(b) for b in bodies])
    return Reply(200, {"queued": len(bodies)})


def notification_faults(call: Call) -> Reply:
    notifications = call.backends.notifications
    try:
        notifications.faults = NotificationFaults.from_dict(_body(call))
    except (TypeError, ValueError) as e:
        return Reply(400, {"error": str(e)})
    return Reply(200, notifications.faults.to_dict())


def fulfillment(call: Call) -> Reply:
    backend = call.backends.fulfillment
    try:
        return Reply(200, backend.configure(_body(call)) if call.request.method == "POST" else backend.report())
    except ValueError as e:
        return Reply(400, {"error": str(e)})


def ground_truth(call: Call) -> Reply:
    """The orders truly last updated in a window as of a moment (no index lag), in v2026's shape."""
    body, st = _body(call), call.state
    as_of = _when(body["as_of"]) if body.get("as_of") else st.clock.now()
    start, end = _when(body["last_updated_after"]), _when(body["last_updated_before"])
    hits = st.true_window_orders(seller_key(body["refresh_token"]), start, end, as_of,
                                 set(body.get("marketplace_ids") or []) or None)
    return Reply(200, {"as_of": iso(as_of), "orders": [o.to_api(as_of) for o in hits]})


def money_truth(call: Call) -> Reply:
    """The money posted in a window and listed as of a moment: each order's, the fees without one, the
    settlements (emulator/money_truth.py)."""
    body, st = _body(call), call.state
    as_of = _when(body["as_of"]) if body.get("as_of") else st.clock.now()
    return Reply(200, truth_report(call.backends.finances, call.backends.settlements,
                                   seller_key(body["refresh_token"]), _when(body["posted_after"]),
                                   _when(body["posted_before"]), as_of, set(body.get("marketplace_ids") or [])))


def returns_truth(call: Call) -> Reply:
    """The returns whose report date falls in a window, as listed at a moment (emulator/returns.py)."""
    body, st = _body(call), call.state
    as_of = _when(body["as_of"]) if body.get("as_of") else st.clock.now()
    return Reply(200, {"as_of": iso(as_of), "returns": returns.truth_rows(
        st, seller_key(body["refresh_token"]), _when(body["after"]), _when(body["before"]), as_of,
        set(body.get("marketplace_ids") or []) or None)})


ROUTES = [
    plain("GET", "/_emulator/clock", clock),
    plain("POST", "/_emulator/clock", clock),
    plain("POST", "/_emulator/faults", faults),
    plain("POST", "/_emulator/pages", pages),
    plain("POST", "/_emulator/notification_faults", notification_faults),
    plain("POST", "/_emulator/publish", lambda c: Reply(200, {"sent": c.backends.notifications.publish_due()})),
    plain("GET", "/_emulator/stats", lambda c: Reply(200, dict(c.state.stats))),
    plain("GET", "/_emulator/merchant", lambda c: Reply(200, c.backends.merchant.report())),
    plain("GET", "/_emulator/fulfillment", fulfillment),
    plain("POST", "/_emulator/fulfillment", fulfillment),
    plain("POST", "/_emulator/ground_truth", ground_truth),
    plain("POST", "/_emulator/money_truth", money_truth),
    plain("POST", "/_emulator/returns_truth", returns_truth),
]
