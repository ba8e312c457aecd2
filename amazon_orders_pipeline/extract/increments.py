"""A day's landed increments: how a change window grows during the day without being fetched again.

A (account, day) partition is landed as a sequence of *increments*, each an attempt of pages (landing.PageStore):
- a `window` increment holds the whole change window so far, [day 00:00, end): a first extraction, a backfill, a
  manual re-materialization. It supersedes every increment before it.
- a `sweep` increment holds what changed since the last landed increment, [its end - overlap, now - 2.5 min): the
  overlap re-reads the minutes Amazon's search index may not have shown yet when the last one was fetched.
- an `orders` increment holds orders read one by one with getOrder (the orders ORDER_CHANGE notifications named),
  each landed in the day of its own lastUpdatedTime.

Each increment has a small file of its own under the day's `increments/` folder, named by when it was landed,
saying its kind, window, pages and whether the load step has put it into DuckDB (`fetched`, then `loaded`). A file
each, never a shared list: a sweep run and a notification run may land increments of one day at the same time. The
day is the newest `window` increment, every `orders` increment, and every sweep after the window; the load adds the
unloaded ones in order (a `window` one replaces the day, and the others are then added again), so a run that died
between extract and load loses no increment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.extract.landing import MIN_LAG, ExtractError, Window, day_start
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

WINDOW, SWEEP, ORDERS = "window", "sweep", "orders"
KINDS = (WINDOW, SWEEP, ORDERS)
# What a sweep re-reads before the end of the last landed increment. The window's end is already 2.5 minutes
# before now, so a change is missed only if the index shows it more than 2.5 minutes late; the overlap covers lags
# up to 2.5 minutes more than itself. Amazon's index lag is reported at about 3 minutes (docs#2131).
DEFAULT_SWEEP_OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class Increment:
    attempt_id: str
    kind: str
    window_start: str  # ISO, Z; for an `orders` increment, the earliest change it was asked for
    window_end: str  # for an `orders` increment, when its orders were read
    pages: int  # orders pages of the attempt (v0 item pages are found from them)
    status: str  # fetched | loaded
    landed_at: str = ""  # ISO, when it was landed: the increments' order

    @property
    def end(self) -> datetime:
        return _parse(self.window_end)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class DayLog:
    """The increments of one (account, day): a file each under `increments/`."""

    def __init__(self, landing: ObjectStore, account_id: str, day: date):
        self.landing, self.day = landing, day
        self.prefix = f"order_pages/account={account_id}/date={day.isoformat()}/increments/"

    def _key(self, increment: Increment) -> str:
        stamp = increment.landed_at.replace(":", "").replace("-", "")
        return f"{self.prefix}{stamp}-{increment.attempt_id}.json"

    def increments(self) -> list[Increment]:
        """The day as it stands, in load order: the newest `window` increment, then every `orders` increment (one
        landed before the window too: getOrder reads the order itself, so it may hold a version the search index
        behind the window did not show yet) and every sweep landed after the window, by landing time."""
        found = [Increment(**get_json(self.landing, key)) for key in self.landing.keys(self.prefix)
                 if key.endswith(".json")]
        found.sort(key=lambda i: (i.landed_at, i.attempt_id))
        windows = [n for n, i in enumerate(found) if i.kind == WINDOW]
        if not windows:
            return found
        window = found[windows[-1]]
        return [window] + [i for n, i in enumerate(found) if n > windows[-1] or i.kind == ORDERS]

    def swept_until(self) -> datetime | None:
        """The end of the newest landed window or sweep: where the next sweep carries on."""
        ends = [i.end for i in self.increments() if i.kind != ORDERS]
        return max(ends, default=None)

    def add(self, increment: Increment) -> Increment:
        """Record a fetched increment (once: a resumed run adding the same attempt again changes nothing)."""
        for known in self.increments():
            if known.attempt_id == increment.attempt_id:
                return known
        increment = replace(increment, landed_at=increment.landed_at or datetime.now(UTC).isoformat())
        put_json(self.landing, self._key(increment), increment.__dict__)
        return increment

    def to_load(self, day: list[Increment] | None = None) -> list[tuple[Increment, bool]]:
        """(increment, replace the day?) for what the load step has to do, in order: nothing when every increment
        is loaded; after an unloaded `window` increment, which replaces the day, every other one again. `day`: the
        increments, when the caller has read them already."""
        day = self.increments() if day is None else day
        if day and day[0].kind == WINDOW and day[0].status != "loaded":
            return [(day[0], True)] + [(i, False) for i in day[1:]]
        return [(i, False) for i in day if i.status != "loaded"]

    def mark_loaded(self, increment: Increment) -> None:
        put_json(self.landing, self._key(increment), {**increment.__dict__, "status": "loaded"})


def sweep_window(day: date, now: datetime, swept_until: datetime | None,
                 overlap: timedelta = DEFAULT_SWEEP_OVERLAP) -> tuple[str, Window] | None:
    """What a sweep of `day` fetches at `now`: ("window", the whole window so far) when nothing has landed yet,
    ("sweep", [swept_until - overlap, now - 2.5 min)) after that, or None when the day was swept to its close."""
    start = day_start(day)
    close = start + timedelta(days=1)
    end = min(close, (now - MIN_LAG).replace(microsecond=0))
    if end <= start:
        raise ExtractError(f"the change window for {day} has not opened yet (now is {now.isoformat()})")
    if swept_until is None:
        return WINDOW, Window(start, end)
    if swept_until >= close:
        return None
    return SWEEP, Window(max(start, swept_until - overlap), max(end, swept_until))
