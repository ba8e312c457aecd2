"""Amazon's models as the tests carry them: reduced to structure by scripts/reduce_spapi_models.py, with a source."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from .spapi_models import MODELS_DIR

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reduce_spapi_models.py"


@pytest.fixture(scope="module")
def reducer():
    spec = importlib.util.spec_from_file_location("reduce_spapi_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose_keywords(node, names: bool = False) -> list[str]:
    """Prose keywords (`description`, `summary`) left in keyword positions, not as property names."""
    found = []
    if isinstance(node, list):
        for v in node:
            found += prose_keywords(v)
    elif isinstance(node, dict):
        for key, value in node.items():
            if not names and key in ("description", "summary"):
                found.append(key)
            if key == "x-amzn-api-sandbox":
                continue
            found += prose_keywords(value, names=key in ("properties", "definitions", "paths", "responses"))
    return found


def test_reduction_keeps_structure_and_names_and_drops_prose(reducer):
    model = {
        "swagger": "2.0", "info": {"title": "Orders", "version": "v0", "description": "long prose",
                                   "contact": {"name": "x"}},
        "paths": {"/orders": {"get": {
            "summary": "Get orders", "description": "prose", "operationId": "getOrders", "tags": ["orders"],
            "parameters": [{"name": "MarketplaceIds", "in": "query", "required": True, "type": "array",
                            "description": "prose", "maxItems": 50, "items": {"type": "string"}}],
            "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Order"},
                                  "x-amzn-api-sandbox": {"static": [{"response": {"description": "data"}}]}}}}}},
        "definitions": {"Order": {
            "type": "object", "description": "An order.", "required": ["description", "Status"],
            "properties": {"description": {"type": "string", "description": "a field named description"},
                           "Status": {"type": "string", "enum": ["Pending", "Shipped"], "x-example": "Pending",
                                      "x-docgen-enum-table-extension": [{"value": "Pending"}]}}}},
    }
    reduced = reducer.reduce_node(model, top=True)
    assert reduced["info"] == {"title": "Orders", "version": "v0"}
    get = reduced["paths"]["/orders"]["get"]
    assert get == {"operationId": "getOrders", "parameters": [
        {"name": "MarketplaceIds", "in": "query", "required": True, "type": "array", "maxItems": 50,
         "items": {"type": "string"}}], "responses": {"200": {
             "schema": {"$ref": "#/definitions/Order"},
             "x-amzn-api-sandbox": {"static": [{"response": {"description": "data"}}]}}}}
    order = reduced["definitions"]["Order"]
    assert order["required"] == ["description", "Status"]
    assert order["properties"] == {"description": {"type": "string"},
                                   "Status": {"type": "string", "enum": ["Pending", "Shipped"]}}


@pytest.mark.parametrize("name", ["ordersV0.json", "orders_2026-01-01.json", "tokens_2021-03-01.json",
                                  "reports_2021-06-30.json", "feeds_2021-06-30.json", "notifications.json",
                                  "fulfillmentOutbound_2020-07-01.json", "fulfillmentOutbound_2026-07-04.json",
                                  "OrderChangeNotification.json"])
def test_each_carried_model_names_its_source_and_holds_no_prose(name):
    model = json.loads((MODELS_DIR / name).read_text())
    source = model["x-reduced-from"]
    assert source["repository"] == "amzn/selling-partner-api-models"
    assert re.fullmatch(r"[0-9a-f]{40}", source["snapshot"]) and re.fullmatch(r"[0-9a-f]{40}", source["blob"])
    assert source["path"].endswith(name)
    assert prose_keywords(model) == []
    assert model.get("definitions") or model.get("properties")


def test_the_sandbox_cases_travel_whole():
    cases = json.loads((MODELS_DIR / "sandbox_cases.json").read_text())
    assert {c["model"] for c in cases} <= {p.name for p in MODELS_DIR.glob("*.json")}
    assert {"searchOrders", "getOrders", "getOrderItems"} <= {c["operation"] for c in cases}
