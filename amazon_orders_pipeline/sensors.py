"""The sensors.

- ORDER_CHANGE: long-polls the notifications queue, lands each message before deleting it (inbox.py), and asks
  for one run per batch of changed orders: getOrder of each (mode `orders`), then, by automation, the transform
  and exports of that day. The intraday sweeps stay the reconciliation for late or lost messages.
- Write-back: asks for a write-back run when files wait in its inbox or requests are still on their way, one run
  at a time (the run takes in every file; a second one beside it would only wait for DuckDB)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import dagster as dg

from amazon_orders_pipeline import request_inbox
from amazon_orders_pipeline.assets.raw import EXTRACT_MODE_TAG, ORDER_BATCH_TAG
from amazon_orders_pipeline.assets.writeback import OPEN_REQUESTS, WRITEBACK_JOB, WRITEBACK_KEY
from amazon_orders_pipeline.extract.increments import ORDERS
from amazon_orders_pipeline.notifications.inbox import OrderChangeInbox
from amazon_orders_pipeline.resources import LandingResource, SpApiResource, WritebackInboxResource
from amazon_orders_pipeline.schedules import partition_range
from amazon_orders_pipeline.settings import Settings

SENSOR_NAME = "order_change_sensor"
# A tick's receiving stops after this long, well inside Dagster's 60-second sensor evaluation limit.
DRAIN_S = 20.0


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


def build_order_change_sensor(job: dg.UnresolvedAssetJobDefinition, account_ids: Sequence[str],
                              settings: Settings) -> dg.SensorDefinition:
    start = date.fromisoformat(settings.partitions_start_date)

    @dg.sensor(name=SENSOR_NAME, job=job, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Receives ORDER_CHANGE notifications from ORDER_CHANGE_QUEUE_URL, lands each one, and "
                           "asks for a run that reads the changed orders with getOrder (one per day's batch).")
    def order_change_sensor(context: dg.SensorEvaluationContext, sp_api: SpApiResource,
                            landing: LandingResource) -> dg.SensorResult:
        inbox = OrderChangeInbox(sqs_client(settings), settings.order_change_queue_url, landing.store(),
                                 sp_api.seller_ids())
        drained = inbox.drain(max_seconds=DRAIN_S)
        for reason in drained.quarantined:
            context.log.warning(f"ORDER_CHANGE message set aside: {reason}")
        pending = inbox.pending()
        started = batches_with_runs(context.instance, [b.batch_id for b in pending])
        too_old = {b.batch_id for b in pending if b.day < start}
        inbox.confirm(started | too_old)
        requests = [dg.RunRequest(run_key=f"orders:{b.batch_id}", tags={
            **partition_range([b.day], account_ids), EXTRACT_MODE_TAG: ORDERS, ORDER_BATCH_TAG: b.batch_id})
            for b in pending if b.batch_id not in started | too_old]
        previous = json.loads(context.cursor) if context.cursor else {}
        cursor = {k: previous.get(k, 0) + v for k, v in (
            ("received", drained.received), ("landed", drained.landed), ("duplicates", drained.duplicates),
            ("quarantined", len(drained.quarantined)), ("batches", len(drained.batches)))}
        return dg.SensorResult(
            run_requests=requests, cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if requests else dg.SkipReason(
                f"received {drained.received} messages; no batch of changed orders is waiting for a run"))

    return order_change_sensor


WRITEBACK_SENSOR = "writeback_sensor"
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]


def open_requests(instance: dg.DagsterInstance) -> int:
    """Requests the last write-back run left on their way (its materialization's metadata)."""
    event = instance.get_latest_materialization_event(WRITEBACK_KEY)
    if event is None or event.asset_materialization is None:
        return 0
    value = event.asset_materialization.metadata.get(OPEN_REQUESTS)
    return int(value.value) if value is not None else 0


def build_writeback_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(name=WRITEBACK_SENSOR, job=job, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Asks for a write-back run when the ERP's files wait in the inbox, or sent requests "
                           "wait for a feed's report or for the marts to show them.")
    def writeback_sensor(context: dg.SensorEvaluationContext,
                         writeback_inbox: WritebackInboxResource) -> dg.SensorResult | dg.SkipReason:
        waiting = request_inbox.waiting(writeback_inbox.store())
        still_open = open_requests(context.instance)
        if not waiting and not still_open:
            return dg.SkipReason("no file in the inbox and no request on its way")
        if context.instance.get_run_records(dg.RunsFilter(job_name=WRITEBACK_JOB, statuses=ACTIVE), limit=1):
            return dg.SkipReason("a write-back run is already queued or running")
        return dg.SensorResult(run_requests=[dg.RunRequest(tags={"amazon_orders/writeback_files": str(len(waiting))})])

    return writeback_sensor
