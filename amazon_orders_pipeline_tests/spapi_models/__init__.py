"""Amazon's SP-API models reduced to their structure, and the sandbox cases (made by scripts/reduce_spapi_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent


def load(name: str):
    """One carried model (or `sandbox_cases.json`), parsed."""
    path = MODELS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: scripts/reduce_spapi_models.py writes Amazon's models there")
    return json.loads(path.read_text())
