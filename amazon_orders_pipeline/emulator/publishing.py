"""What every notification the emulator publishes shares: the fault mix of a delivery (lost, duplicated, late), its
drawn publish time, the record of what was sent, and the seller's merchant id. Each notification type's payload and
subjects are in a module of its own (order_change.py, transaction_update.py); the publisher is notifications.py."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# The publisher's test application, as Amazon names solutions.
APPLICATION_ID = "amzn1.sp.solution.6f5c7a52-emul-4a0b-9e1d-000000000001"


@dataclass
class NotificationFaults:
    """How delivery goes wrong, per event: lost, duplicated (sent twice, the copy later), or late (held back
    `late_s` more). An event's publish delay is drawn from `delay_s`; one published example took 3.4 minutes."""

    lost: float = 0.0
    duplicated: float = 0.0
    late: float = 0.0
    delay_s: tuple[float, float] = (6.0, 240.0)
    late_s: tuple[float, float] = (600.0, 3600.0)

    @classmethod
    def from_dict(cls, data: dict) -> NotificationFaults:
        known = {"lost", "duplicated", "late", "delay_s", "late_s"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown notification faults {sorted(unknown)}")
        out = cls(**{k: (tuple(v) if k.endswith("_s") else float(v)) for k, v in data.items()})
        if not all(0 <= p <= 1 for p in (out.lost, out.duplicated, out.late)):
            raise ValueError("fault rates are between 0 and 1")
        return out

    def to_dict(self) -> dict:
        return {"lost": self.lost, "duplicated": self.duplicated, "late": self.late,
                "delay_s": list(self.delay_s), "late_s": list(self.late_s)}

    def longest(self) -> timedelta:
        """The most an event's message can trail the event (a late duplicate)."""
        return timedelta(seconds=max(self.delay_s) + max(self.late_s) + 630)


@dataclass(frozen=True)
class Delivery:
    """One message to send: an event of a subject (an order's change, a posted transaction) at its publish time."""

    at: datetime
    key: str  # the subject's id: messages due at one moment go out in this order
    subject: object  # OrderHistory | Posting
    changed_at: datetime  # when the event happened
    status: str
    notification_id: str
    copy: int = 0


@dataclass
class Published:
    """What was sent and what was not, for tests and benchmarks."""

    sent: list[dict] = field(default_factory=list)  # {type, order_id, changed_at, publish_time, notification_id, copy}
    lost: list[dict] = field(default_factory=list)


def unit(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:6], "big") / float(1 << 48)


def iso_ms(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def selling_partner_id(seller: str) -> str:
    """The merchant id Amazon gives a seller (`SellerId` in ORDER_CHANGE, `SellingPartnerId` in TRANSACTION_UPDATE
    and listTransactions): 14 upper-case letters and digits."""
    digest = hashlib.sha256(f"merchant:{seller}".encode()).hexdigest().upper()
    return "A" + digest[:13]


def is_lost(seed: int, faults: NotificationFaults, key: str, ts: datetime, kind: str = "") -> bool:
    return unit(seed, kind + "lost", key, ts) < faults.lost


def deliveries(seed: int, faults: NotificationFaults, key: str, subject: object, ts: datetime,
               status: str, kind: str = "") -> list[Delivery]:
    """The messages Amazon sends for one event of `key` at `ts` (none when lost, two when duplicated), each a
    function of the seed, the key and the time, so a test knows what was lost. `kind` keeps two notification types
    of one key apart."""
    low, high = faults.delay_s
    at = ts + timedelta(seconds=low + (high - low) * unit(seed, kind + "delay", key, ts))
    if unit(seed, kind + "late", key, ts) < faults.late:
        low, high = faults.late_s
        at += timedelta(seconds=low + (high - low) * unit(seed, kind + "late-by", key, ts))
    notification_id = str(uuid.UUID(bytes=hashlib.sha256(
        f"{seed}:{kind}notification:{key}:{ts.isoformat()}".encode()).digest()[:16], version=4))
    if is_lost(seed, faults, key, ts, kind):
        return []
    out = [Delivery(at, key, subject, ts, status, notification_id)]
    if unit(seed, kind + "dup", key, ts) < faults.duplicated:
        again = timedelta(seconds=30 + 600 * unit(seed, kind + "dup-by", key, ts))
        out.append(Delivery(at + again, key, subject, ts, status, notification_id, copy=1))
    return out
