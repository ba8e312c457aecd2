"""dbt-duckdb's plugin for the `lake` target (profiles.yml): before dbt attaches the lake, load the extensions from
their PyPI wheels and give DuckDB boto3's S3 credentials; every cursor then uses the lake (lake.py)."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from amazon_orders_pipeline import lake


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        self.s3_endpoint_url = plugin_config.get("s3_endpoint_url") or None

    def configure_connection(self, conn) -> None:
        lake.load_extensions(conn)
        lake.s3_secret(conn, self.s3_endpoint_url)

    def configure_cursor(self, cursor):
        cursor.execute("use lake")  # lake.ALIAS
        return cursor
