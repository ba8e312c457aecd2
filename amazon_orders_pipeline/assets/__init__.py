"""Dagster assets, one module per stage: raw (extract + load), dbt (transform), exports (deliver)."""
