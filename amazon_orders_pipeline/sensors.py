"""The sensors.

- Notifications: long-polls the notifications queue, lands each message before deleting it (inbox.py), and asks
  for one run per batch. ORDER_CHANGE: getOrder of each changed order (mode `orders`), then, by automation, the
  transform and exports of that day; the intraday sweeps stay the reconciliation for late or lost messages.
  TRANSACTION_UPDATE: once Amazon lists the notified transactions (about 48 hours after they post), a run of the
  finances job that reads those orders' transactions by ORDER_ID; the daily reads of each posted day stay the
  reconciliation.
- The request inboxes (the ERP's write-back files, the web shop's MCF orders): a run when files wait, and one every
  few minutes while requests are on their way."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import dagster as dg

from amazon_orders_pipeline.assets.keys import EXTRACT_MODE_TAG, MCF_KEY, ORDER_BATCH_TAG, WRITEBACK_KEY
from amazon_orders_pipeline.assets.mcf import OPEN_ORDERS
from amazon_orders_pipeline.assets.writeback import OPEN_REQUESTS
from amazon_orders_pipeline.extract.increments import ORDERS
from amazon_orders_pipeline.finances.landing import LISTING_LAG
from amazon_orders_pipeline.notifications.inbox import Batch, NotificationInbox
from amazon_orders_pipeline.notifications.messages import ORDER_CHANGE
from amazon_orders_pipeline.resources import LandingResource, McfInboxResource, SpApiResource, WritebackInboxResource
from amazon_orders_pipeline.schedules import partition_range
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.writes.inbox import waiting as waiting_files

SENSOR_NAME = "order_change_sensor"
# A tick's receiving stops after this long, well inside Dagster's 60-second sensor evaluation limit.
DRAIN_S = 20.0
# A TRANSACTION_UPDATE's order is read this long after the transaction posted: Amazon lists transactions about 48
# hours after their postedDate (the emulator: 48 to 50 hours). One listed later still is found by the posted day's
# re-reads (finances/landing.py: READ_AGES).
NOTIFIED_READ_DELAY = LISTING_LAG + timedelta(hours=2)


def sqs_client(settings: Settings):
    import boto3

    return boto3.client("sqs", endpoint_url=settings.order_change_sqs_endpoint_url,
                        region_name=settings.order_change_queue_region)


def batches_with_runs(instance: dg.DagsterInstance, batch_ids: Sequence[str]) -> set[str]:
    """The batches a run exists for (in any status: a failed one is retried as Dagster retries runs, and the
    sweeps reconcile what it missed)."""
    found = set()
    for batch_id in batch_ids:
        if instance.get_run_records(dg.RunsFilter(tags={ORDER_BATCH_TAG: batch_id}), limit=1):
            found.add(batch_id)
    return found


def batch_requests(batches: list[Batch], instance: dg.DagsterInstance, inbox: NotificationInbox, start: date,
                   job_name: str, run_key: str, account_ids: Sequence[str],
                   due: datetime | None = None) -> list[dg.RunRequest]:
    """A run of `job_name` (mode `orders`) per pending batch; the batches a run exists for (or older than the
    partitions) leave the pending list. `due`: only the batches whose latest event is NOTIFIED_READ_DELAY before
    it are asked for (the others wait)."""
    started = batches_with_runs(instance, [b.batch_id for b in batches])
    too_old = {b.batch_id for b in batches if b.day < start}
    inbox.confirm(started | too_old)
    return [dg.RunRequest(run_key=f"{run_key}:{b.batch_id}", job_name=job_name, tags={
        **partition_range([b.day], account_ids), EXTRACT_MODE_TAG: ORDERS, ORDER_BATCH_TAG: b.batch_id})
        for b in batches if b.batch_id not in started | too_old
        and (due is None or b.latest() + NOTIFIED_READ_DELAY <= due)]


def build_order_change_sensor(job: dg.UnresolvedAssetJobDefinition, account_ids: Sequence[str],
                              settings: Settings,
                              finances_job: dg.UnresolvedAssetJobDefinition | None = None) -> dg.SensorDefinition:
    """The notifications sensor. Without `finances_job`, TRANSACTION_UPDATE batches are landed and wait."""
    start = date.fromisoformat(settings.partitions_start_date)

    @dg.sensor(name=SENSOR_NAME, jobs=[job] + ([finances_job] if finances_job else []), minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Receives ORDER_CHANGE and TRANSACTION_UPDATE notifications from ORDER_CHANGE_QUEUE_URL, "
                           "lands each one, and asks for a run that reads the changed orders with getOrder (one per "
                           "day's batch), or, once Amazon lists them, the notified orders' transactions.")
    def order_change_sensor(context: dg.SensorEvaluationContext, sp_api: SpApiResource,
                            landing: LandingResource) -> dg.SensorResult:
        inbox = NotificationInbox(sqs_client(settings), settings.order_change_queue_url, landing.store(),
                                 sp_api.seller_ids())
        drained = inbox.drain(max_seconds=DRAIN_S)
        for reason in drained.quarantined:
            context.log.warning(f"notification set aside: {reason}")
        batches = inbox.pending()
        pending = [b for b in batches if b.kind == ORDER_CHANGE]
        money = [b for b in batches if b.kind != ORDER_CHANGE]
        requests = batch_requests(pending, context.instance, inbox, start, job.name, "orders", account_ids)
        if money and finances_job is not None:
            account = sp_api.accounts()[next(iter(money[0].orders))]
            requests += batch_requests(money, context.instance, inbox, start, finances_job.name, "money", account_ids,
                                       due=sp_api.client_for(account).now())
        previous = json.loads(context.cursor) if context.cursor else {}
        cursor = {k: previous.get(k, 0) + v for k, v in (
            ("received", drained.received), ("landed", drained.landed), ("duplicates", drained.duplicates),
            ("quarantined", len(drained.quarantined)), ("batches", len(drained.batches)),
            ("without_order", drained.without_order))}
        return dg.SensorResult(
            run_requests=requests, cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if requests else dg.SkipReason(
                f"received {drained.received} messages; no batch of changed orders is waiting for a run"
                + (f"; {len(money)} batch(es) of notified transactions wait for Amazon to list them" if money
                   else "")))

    return order_change_sensor


WRITEBACK_SENSOR = "writeback_sensor"
MCF_SENSOR = "mcf_sensor"
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]


def open_work(instance: dg.DagsterInstance, asset_key: dg.AssetKey, metadata_key: str) -> tuple[int, float | None]:
    """(requests the asset's last run left on their way, when that run materialized it) from its metadata."""
    event = instance.get_latest_materialization_event(asset_key)
    if event is None or event.asset_materialization is None:
        return 0, None
    value = event.asset_materialization.metadata.get(metadata_key)
    return (int(value.value) if value is not None else 0), event.timestamp


def inbox_tick(context: dg.SensorEvaluationContext, inbox, job_name: str, asset_key: dg.AssetKey,
               metadata_key: str, recheck_minutes: float) -> dg.SensorResult | dg.SkipReason:
    """A request inbox's sensor tick: a run as soon as files wait in the inbox, and, while the last run left requests
    on their way, one every `recheck_minutes` to follow them. One run at a time: a run takes in every file, and a
    second one beside it would only wait for DuckDB."""
    waiting = waiting_files(inbox)
    still_open, last = open_work(context.instance, asset_key, metadata_key)
    due = bool(still_open) and (last is None or time.time() - last >= recheck_minutes * 60)
    if not waiting and not due:
        return dg.SkipReason("no file in the inbox" + (f"; {still_open} request(s) on their way, followed every "
                                                       f"{recheck_minutes:g} minutes" if still_open else ""))
    if context.instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=ACTIVE), limit=1):
        return dg.SkipReason("a run of this job is already queued or running")
    return dg.SensorResult(run_requests=[dg.RunRequest(tags={"amazon_orders/inbox_files": str(len(waiting))})])


def build_writeback_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(name=WRITEBACK_SENSOR, job=job, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Asks for a write-back run when the ERP's files wait in the inbox, and every 5 minutes "
                           "while sent requests wait for a feed's report or for the marts to show them.")
    def writeback_sensor(context: dg.SensorEvaluationContext,
                         writeback_inbox: WritebackInboxResource) -> dg.SensorResult | dg.SkipReason:
        return inbox_tick(context, writeback_inbox.store(), job.name, WRITEBACK_KEY, OPEN_REQUESTS, 5)

    return writeback_sensor


def build_mcf_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(name=MCF_SENSOR, job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Asks for an MCF run when the shop's order files wait in the inbox, and every 15 minutes "
                           "while fulfillment orders are open at Amazon (their tracking).")
    def mcf_sensor(context: dg.SensorEvaluationContext,
                   mcf_inbox: McfInboxResource) -> dg.SensorResult | dg.SkipReason:
        return inbox_tick(context, mcf_inbox.store(), job.name, MCF_KEY, OPEN_ORDERS, 15)

    return mcf_sensor
