"""Returns: the FBA and merchant-fulfilled returns reports requested per account and window, landed verbatim
(landing.py), then loaded into the raw tables a row per line (raw.py). No Dagster."""
