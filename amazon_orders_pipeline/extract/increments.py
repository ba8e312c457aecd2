"""A day's landed increments: how a change window grows during the day without being fetched again.

A (account, day) partition is landed as a sequence of *increments*, each an attempt of pages (landing.PageStore):
- a `window` increment holds the whole change window so far, [day 00:00, end): a first extraction, a backfill, a
  manual re-materialization. It supersedes every increment before it.
- a `sweep` increment holds what changed since the day was last *settled*, [settled - overlap, now - settle): a
  change is searched for only once Amazon's search index has had `settle` minutes to show it, so a sweep re-reads
  nothing of the last one (each order version costs searchOrders quota once). The day is settled up to the end of
  its newest window or sweep, or up to `settle` before that increment was fetched, if earlier: a first window ends
  2.5 minutes before now, for freshness, and the sweep after it re-reads those minutes once.
- an `orders` increment holds orders read one by one with getOrder (the orders ORDER_CHANGE notifications named),
  each landed in the day of its own lastUpdatedTime.

Each increment has a small file of its own under the day's `increments/` folder, named by when it was landed,
saying its kind, window, pages and whether the load step has put it into DuckDB (`fetched`, then `loaded`). A file
each, never a shared list: a sweep run and a notification run may land increments of one day at the same time.
Once a day has many loaded ones, the load folds them into an `index-*.json` file (loaded is final, so an index
never changes; a new one replaces the old after it is written), so reading a day is a few files, not thousands. The
day is the newest `window` increment, every `orders` increment, and every sweep after the window; the load adds the
unloaded ones in order (a `window` one replaces the day, and the others are then added again), so a run that died
between extract and load loses no increment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from amazon_orders_pipeline.extract.landing import MIN_LAG, ExtractError, Window, day_start
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

WINDOW, SWEEP, ORDERS = "window", "sweep", "orders"
# How long Amazon's search index is given to show a change before a sweep searches for it: a sweep's window ends
# this long before now. Amazon's index lag is reported at about 3 minutes (docs#2131); a change shown later than
# this waits for the overlap, if any, or the day's re-check.
DEFAULT_SWEEP_SETTLE = timedelta(minutes=5)
# What a sweep re-reads before where the day was settled, for index lags longer than the settle time: quota spent
# on versions already landed, so none by default.
DEFAULT_SWEEP_OVERLAP = timedelta(0)
# Loaded increment files a day keeps before the load folds them into an index file (DayLog.fold).
FOLD_AFTER = 32
INDEX_PREFIX = "index-"
FOLD_RACE_RETRIES = 5


@dataclass(frozen=True)
class Increment:
    attempt_id: str
    kind: str
    window_start: str  # ISO, Z; for an `orders` increment, the earliest change it was asked for
    window_end: str  # for an `orders` increment, when its orders were read
    pages: int  # orders pages of the attempt (v0 item pages are found from them)
    status: str  # fetched | loaded
    landed_at: str = ""  # ISO, when it was landed: the increments' order
    fetched_at: str = ""  # ISO, the API's clock when its fetch began ("" in increments landed before it was kept)

    @property
    def end(self) -> datetime:
        return _parse(self.window_end)

    def settled(self, settle: timedelta) -> datetime:
        """Until when every change was surely in the search index when this increment was searched: its end, or
        `settle` before its fetch began if that is earlier."""
        return min(self.end, _parse(self.fetched_at) - settle) if self.fetched_at else self.end


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

    def _read(self) -> tuple[dict[str, Increment], list[str], dict[str, Increment]]:
        """(every increment by attempt, the index files' keys, the increment files by key). A key that vanishes
        while it is read was folded into an index meanwhile: the listing is read again."""
        for _ in range(FOLD_RACE_RETRIES):
            found: dict[str, Increment] = {}
            indexes: list[str] = []
            files: dict[str, Increment] = {}
            complete = True
            for key in self.landing.keys(self.prefix):
                if not key.endswith(".json"):
                    continue
                data = get_json(self.landing, key)
                if data is None:
                    complete = False
                    break
                if key[len(self.prefix):].startswith(INDEX_PREFIX):
                    indexes.append(key)
                    for entry in data["increments"]:
                        found.setdefault(entry["attempt_id"], Increment(**entry))
                else:
                    files[key] = found[data["attempt_id"]] = Increment(**data)  # a file is as new as any index
            if complete:
                return found, indexes, files
        raise ExtractError(f"{self.prefix}: the increments kept changing while they were read")

    def increments(self) -> list[Increment]:
        """The day as it stands, in load order: the newest `window` increment, then every `orders` increment (one
        landed before the window too: getOrder reads the order itself, so it may hold a version the search index
        behind the window did not show yet) and every sweep landed after the window, by landing time."""
        found = sorted(self._read()[0].values(), key=lambda i: (i.landed_at, i.attempt_id))
        windows = [n for n, i in enumerate(found) if i.kind == WINDOW]
        if not windows:
            return found
        window = found[windows[-1]]
        return [window] + [i for n, i in enumerate(found) if n > windows[-1] or i.kind == ORDERS]

    def fold(self, at_least: int = FOLD_AFTER) -> int:
        """Fold the day's loaded increment files into one index file once there are `at_least` of them, so a day
        of thousands of increments (a notification batch each) is read in a few files, not thousands. Returns how
        many files were folded. Safe beside another fold or a reader: the new index is written before any file it
        holds is deleted, and a loaded increment never changes again."""
        found, indexes, files = self._read()
        loaded = [key for key, i in files.items() if i.status == "loaded"]
        if len(loaded) < at_least:
            return 0
        entries = sorted((i for i in found.values() if i.status == "loaded"), key=lambda i: (i.landed_at, i.attempt_id))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        put_json(self.landing, f"{self.prefix}{INDEX_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}.json",
                 {"increments": [i.__dict__ for i in entries]})
        for key in [*indexes, *loaded]:
            self.landing.delete(key)
        return len(loaded)

    def settled_until(self, settle: timedelta = DEFAULT_SWEEP_SETTLE) -> datetime | None:
        """Where the next sweep carries on: until when the landed windows and sweeps surely hold every change."""
        return max((i.settled(settle) for i in self.increments() if i.kind != ORDERS), default=None)

    def add(self, increment: Increment) -> Increment:
        """Record a fetched increment (once: a resumed run adding the same attempt again changes nothing)."""
        known = self._read()[0].get(increment.attempt_id)
        if known is not None:
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


def sweep_window(day: date, now: datetime, settled_until: datetime | None,
                 settle: timedelta = DEFAULT_SWEEP_SETTLE,
                 overlap: timedelta = DEFAULT_SWEEP_OVERLAP) -> tuple[str, Window] | None:
    """What a sweep of `day` fetches at `now`: ("window", [day 00:00, now - 2.5 min)) when nothing has landed yet,
    ("sweep", [settled_until - overlap, now - settle)) after that, or None when there is nothing to sweep: the day
    is settled to its close, or nothing has settled since the last sweep."""
    start = day_start(day)
    close = start + timedelta(days=1)
    if settled_until is None:
        end = min(close, (now - MIN_LAG).replace(microsecond=0))
        if end <= start:
            raise ExtractError(f"the change window for {day} has not opened yet (now is {now.isoformat()})")
        return WINDOW, Window(start, end)
    if settled_until >= close:
        return None
    begin = max(start, settled_until - overlap)
    end = min(close, (now - max(settle, MIN_LAG)).replace(microsecond=0))
    return (SWEEP, Window(begin, end)) if end > begin else None
