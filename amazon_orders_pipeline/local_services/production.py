"""The production profile's services on one machine, for tests, `make demo-lake` and the benchmarks: a throwaway
PostgreSQL cluster (the DuckLake catalog, the Dagster instance) and moto server for S3 (the lake's data files, the
landing area, the exports), all on loopback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import boto3

from amazon_orders_pipeline.local_services.moto import moto_server_running
from amazon_orders_pipeline.local_services.postgres import Cluster, postgres_cluster

# moto accepts any credentials; boto3 (and so the lake's DuckDB secret) needs some to sign with.
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}


# The pipeline's file areas, each in S3 under the production profile (their settings: <AREA>_S3_URI and
# <AREA>_S3_ENDPOINT_URL).
S3_AREAS = ("LANDING", "EXPORT", "WRITEBACK_INBOX", "MCF_INBOX")


@dataclass(frozen=True)
class Services:
    postgres: Cluster
    s3_endpoint: str

    def bucket(self, name: str) -> str:
        boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=name)
        return name

    def lake_env(self, name: str) -> dict[str, str]:
        """A new, empty DuckLake named `name` (its own catalog database and bucket): the pipeline's settings for it."""
        name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "lake"
        database = self.postgres.create_database(name.replace("-", "_"))
        bucket = self.bucket(f"{name}-lake")
        return {"WAREHOUSE_BACKEND": "ducklake", "DUCKLAKE_CATALOG": self.postgres.conninfo(database),
                "DUCKLAKE_DATA_PATH": f"s3://{bucket}/data/", "DUCKLAKE_S3_ENDPOINT_URL": self.s3_endpoint}

    def production_env(self, name: str) -> dict[str, str]:
        """The whole production profile: the lake, and the landing area, exports and inboxes in S3 (no local
        state)."""
        name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "prod"
        files = self.bucket(f"{name}-files")
        return {**self.lake_env(name),
                **{f"{area}_S3_URI": f"s3://{files}/{area.lower()}" for area in S3_AREAS},
                **{f"{area}_S3_ENDPOINT_URL": self.s3_endpoint for area in S3_AREAS}}


@contextmanager
def production_services(set_credentials: bool = True) -> Iterator[Services]:
    """PostgreSQL and moto server until the block ends. `set_credentials`: put moto's test credentials in this
    process's environment (boto3 and dbt's subprocesses read them there) unless some are set already."""
    added = {key: value for key, value in TEST_CREDENTIALS.items() if key not in os.environ} if set_credentials \
        else {}
    with ExitStack() as stack:
        stack.enter_context(environ_added(added))
        cluster = stack.enter_context(postgres_cluster())
        endpoint = stack.enter_context(moto_server_running())
        yield Services(cluster, endpoint)


@contextmanager
def environ_added(values: dict[str, str]) -> Iterator[None]:
    """`values` in this process's environment until the block ends, then each variable as it was before."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
