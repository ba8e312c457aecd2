"""Dagster assets, one module per stage: raw (extract + load), dbt (transform), exports (deliver), writeback (to
Amazon)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import dagster as dg

from amazon_orders_pipeline.accounts import load_accounts
from amazon_orders_pipeline.assets.dbt import build_dbt_assets
from amazon_orders_pipeline.assets.exports import build_export_assets
from amazon_orders_pipeline.assets.extract import build_landed_pages_asset
from amazon_orders_pipeline.assets.finances import build_finance_assets, settlement_reports
from amazon_orders_pipeline.assets.load import build_order_pages_asset
from amazon_orders_pipeline.assets.mcf import fba_fulfillment_orders
from amazon_orders_pipeline.assets.money_exports import build_money_export_assets, erp_settlement_journals
from amazon_orders_pipeline.assets.return_exports import build_return_export_asset
from amazon_orders_pipeline.assets.returns import build_returns_assets
from amazon_orders_pipeline.assets.writeback import mfn_writeback
from amazon_orders_pipeline.automation import after_extraction, after_finance_reads, after_return_reads
from amazon_orders_pipeline.chosen_warnings import chosen_features
from amazon_orders_pipeline.extract.plan import SweepPolicy
from amazon_orders_pipeline.partitions import daily_partitions, raw_partitions
from amazon_orders_pipeline.settings import Settings


@dataclass(frozen=True)
class PipelineAssets:
    """The assets of every stage, and the keys other definitions are built around."""

    raw: list[dg.AssetsDefinition]
    dbt: dg.AssetsDefinition
    exports: list[dg.AssetsDefinition]
    raw_partitions: dg.MultiPartitionsDefinition
    account_ids: list[str]
    # The money after the sale: its raw stage (posted day x account) and its exports (daily).
    finances: list[dg.AssetsDefinition]
    # Returns: their raw stage (report day x account) and their export (daily).
    returns: list[dg.AssetsDefinition]

    @property
    def all(self) -> list[dg.AssetsDefinition]:
        """The daily-partitioned stages (what a backfill or the transform selects from)."""
        return [*self.raw, *self.finances, *self.returns, self.dbt, *self.exports]

    @property
    def writeback(self) -> list[dg.AssetsDefinition]:
        """The unpartitioned writes to Amazon, each run by its own job: the MFN write-back and the MCF orders."""
        return [mfn_writeback, fba_fulfillment_orders]

    @property
    def settlements(self) -> list[dg.AssetsDefinition]:
        """The settlement reports Amazon makes by itself: unpartitioned, every report of the last 90 days."""
        return [settlement_reports, erp_settlement_journals]

    @property
    def mart_keys(self) -> list[dg.AssetKey]:
        """The marts, as dbt's manifest places them (models/marts), not as Python lists them."""
        groups = self.dbt.group_names_by_key
        return sorted(k for k in self.dbt.keys if groups.get(k) == "marts")

    @property
    def export_keys(self) -> list[dg.AssetKey]:
        return [k for a in self.exports for k in a.keys]


def build_assets(settings: Settings) -> PipelineAssets:
    account_ids = [a.id for a in load_accounts(settings.accounts_file)]
    daily = daily_partitions(settings.partitions_start_date)
    raw = raw_partitions(daily, account_ids)
    follow = after_extraction(settings.lookback_days)
    sweeps = SweepPolicy(settle=timedelta(minutes=settings.sweep_settle_minutes),
                         overlap=timedelta(minutes=settings.sweep_overlap_minutes))
    with chosen_features():
        return PipelineAssets(raw=[build_landed_pages_asset(raw, sweeps), build_order_pages_asset(raw)],
                              dbt=build_dbt_assets(daily, follow, {"finances": after_finance_reads(),
                                                                   "returns": after_return_reads()}),
                              exports=build_export_assets(daily, follow), raw_partitions=raw, account_ids=account_ids,
                              finances=build_finance_assets(raw) + build_money_export_assets(
                                  daily, after_finance_reads()),
                              returns=[*build_returns_assets(raw),
                                       build_return_export_asset(daily, after_return_reads())])
