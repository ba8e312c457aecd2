"""The money after the sale: Finances v2024-06-19 transactions read per posted day and landed verbatim (landing.py),
then loaded into the raw tables (raw.py). dbt's models/finances turn them into the money marts (docs/money.md)."""
