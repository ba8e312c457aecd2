"""Notifications in tests: a queue on moto server the emulator publishes to, and sensor ticks whose requested runs
are executed in-process, as the Dagster daemon would launch them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import dagster as dg

from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.commands import set_up
from amazon_orders_pipeline.emulator.auth import seller_key
from amazon_orders_pipeline.emulator.embedded import emulator_refresh_token
from amazon_orders_pipeline.local_runs import materialize_finance_tags
from amazon_orders_pipeline.schedules import FINANCES_JOB, build_finance_schedule
from amazon_orders_pipeline.sensors import build_order_change_sensor
from amazon_orders_pipeline.settings import Settings
from amazon_orders_pipeline.testing.runs import fast_resources, materialize_raw_tags

QUEUE = "order-change"


def sqs_client(endpoint: str):
    """A client of moto server's SQS (any credentials will do there)."""
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@dataclass
class OrderQueue:
    endpoint: str
    url: str
    arn: str
    dlq_url: str
    env: dict[str, str]  # the pipeline's environment, with the queue

    @classmethod
    def create(cls, endpoint: str, emulator, pipeline_env: dict[str, str], name: str = QUEUE) -> OrderQueue:
        sqs = sqs_client(endpoint)
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=name, Attributes={
            "MessageRetentionPeriod": "1209600", "VisibilityTimeout": "120",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        emulator.backends.notifications.sqs_endpoint = endpoint
        # Each account's seller is of its region (the emulator learns it from a seller's first Orders request).
        for account in load_accounts(Settings.from_env(pipeline_env).accounts_file):
            emulator.state.regional_marketplaces(seller_key(emulator_refresh_token(account.id)),
                                                 list(account.marketplace_ids))
        env = {**pipeline_env, "ORDER_CHANGE_QUEUE_URL": url, "ORDER_CHANGE_SQS_ENDPOINT_URL": endpoint,
               "ORDER_CHANGE_QUEUE_REGION": "us-east-1"}
        return cls(endpoint, url, arn, dlq, env)

    @property
    def sqs(self):
        return sqs_client(self.endpoint)

    def subscribe(self, types: tuple[str, ...] = ("ORDER_CHANGE",)) -> dict:
        return set_up(self.arn, "tests", self.env, types=types)

    def subscribe_accounts(self, account_ids: list[str]) -> dict:
        return set_up(self.arn, "tests", self.env, account_ids, types=("ORDER_CHANGE",))

    def depth(self) -> int:
        """Messages on the queue, visible or in flight."""
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def sensor_tick(env: dict[str, str], instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    """One evaluation of the notifications sensor, as the definitions build it."""
    settings = Settings.from_env(env)
    resources = fast_resources(env)
    account_ids = [a.id for a in load_accounts(settings.accounts_file)]
    sensor = build_order_change_sensor(dg.define_asset_job("daily_extract"), account_ids, settings,
                                       build_finance_schedule(account_ids)[0])
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"sp_api": resources["sp_api"], "landing": resources["landing"]})
    with context:
        return sensor(context)


def run_requested(env: dict[str, str], instance: dg.DagsterInstance, result: dg.SensorResult) -> list:
    """Execute each run the sensor asked for, in-process, tagged as the daemon would tag it."""
    out = []
    for r in result.run_requests or []:
        tags = {**r.tags, "dagster/run_key": r.run_key}
        if r.job_name == FINANCES_JOB:
            out.append(materialize_finance_tags(tags, environ=env, resources=fast_resources(env), instance=instance))
        else:
            out.append(materialize_raw_tags(env, tags, instance=instance))
    return out
