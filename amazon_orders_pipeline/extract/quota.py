"""An account's searchOrders quota across runs. Each run starts a client with a full bucket, but Amazon's bucket
is the seller's, shared by every run: a backfill that spent it leaves nothing for the next sweep. The extraction
records its bucket's level when it ends a day (on the API's clock), and a sweep round starts from it: an account
whose quota is spent is skipped for that round (its next round sweeps what it missed), and one whose quota is low
is paced from the start instead of learning it from 429s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from amazon_orders_pipeline.sp_api.http import SpApiClient
from amazon_orders_pipeline.stores import ObjectStore, get_json, put_json

OPERATION = "searchOrders"


@dataclass(frozen=True)
class QuotaLedger:
    store: ObjectStore
    account_id: str

    @property
    def key(self) -> str:
        return f"quota/account={self.account_id}/{OPERATION}.json"

    def save(self, client: SpApiClient) -> None:
        bucket = client.bucket(OPERATION)
        put_json(self.store, self.key, {"tokens": bucket.level(), "rate": bucket.rate, "burst": bucket.burst,
                                        "at": client.now().isoformat()})

    def restore(self, client: SpApiClient, now: datetime) -> float:
        """The tokens the account has now by the last record (refilled since at its rate), set in the client's
        bucket; the burst when there is no record."""
        bucket = client.bucket(OPERATION)
        record = get_json(self.store, self.key)
        if record is None:
            return bucket.level()
        elapsed = max(0.0, (now - datetime.fromisoformat(record["at"])).total_seconds())
        tokens = min(float(record["burst"]), float(record["tokens"]) + elapsed * float(record["rate"]))
        bucket.set_level(tokens)
        return tokens
