"""Reduce Amazon's SP-API OpenAPI models to their structure, as test fixtures that travel with the repository.

Kept: paths, operations, parameters, schemas, types, formats, required fields, enums, bounds and patterns, and the
sandbox examples (`x-amzn-api-sandbox`; `sandbox_cases.json` is copied whole: it is data). Dropped: prose
(descriptions, summaries, titles, enum tables for the docs, illustrative `x-example` values) and contact/licence
blocks. Each reduced model names its source (repository, path, snapshot, blob) under `x-reduced-from`.

    python scripts/reduce_spapi_models.py [SOURCE_DIR] [OUT_DIR]

SOURCE_DIR defaults to ../shared/spapi-models beside the repository (with its SOURCES.md); OUT_DIR to
amazon_orders_pipeline_tests/spapi_models. The output is deterministic: run it again after Amazon's models change
and commit the diff.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "spapi-models"
DEFAULT_OUT = REPO / "amazon_orders_pipeline_tests" / "spapi_models"

# Keys that hold prose or illustration, wherever a keyword (not a name) can stand.
PROSE = {"description", "summary", "title", "x-example", "example", "externalDocs", "x-docgen-enum-table-extension",
         "contact", "license", "termsOfService", "tags"}
# Keys whose value maps names (properties, definitions, paths, status codes, headers) to structure.
NAME_MAPS = {"properties", "definitions", "paths", "responses", "headers", "securityDefinitions",
             "patternProperties"}
# Keys whose value is data: kept verbatim.
DATA = {"x-amzn-api-sandbox", "enum", "default", "required"}
DATA_FILES = ("sandbox_cases.json",)


def reduce_node(node, top: bool = False):
    if isinstance(node, list):
        return [reduce_node(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in PROSE:
            continue
        if key in DATA:
            out[key] = value
        elif key in NAME_MAPS and isinstance(value, dict):
            out[key] = {name: reduce_node(v) for name, v in value.items()}
        elif top and key == "parameters" and isinstance(value, dict):
            out[key] = {name: reduce_node(v) for name, v in value.items()}
        elif top and key == "info":
            out[key] = {k: value[k] for k in ("title", "version") if k in value}
        else:
            out[key] = reduce_node(value)
    return out


def sources(source_dir: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """(snapshot commit, {file: {path, last_commit, blob}}) from the SOURCES.md table beside the models."""
    text = (source_dir / "SOURCES.md").read_text()
    snapshot = re.search(r"snapshot HEAD\s+`([0-9a-f]{40})`", text)
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`") and cells[0].endswith(".json`"):
            ticked = [re.findall(r"`([^`]+)`", c) for c in cells[:4]]
            rows[ticked[0][0]] = {"path": ticked[1][0], "last_commit": ticked[2][0], "blob": ticked[3][0]}
    return (snapshot.group(1) if snapshot else "unknown"), rows


def main(argv: list[str]) -> int:
    source_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    out_dir = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    if not (source_dir / "SOURCES.md").is_file():
        print(f"{source_dir}: no SOURCES.md; point SOURCE_DIR at the folder of Amazon's models", file=sys.stderr)
        return 2
    snapshot, rows = sources(source_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, row in sorted(rows.items()):
        model = json.loads((source_dir / name).read_text())
        reduced = reduce_node(model, top=True)
        reduced["x-reduced-from"] = {"repository": "amzn/selling-partner-api-models", "snapshot": snapshot, **row}
        (out_dir / name).write_text(json.dumps(reduced, indent=1, sort_keys=False) + "\n")
        print(f"{name}: {(source_dir / name).stat().st_size} -> {(out_dir / name).stat().st_size} bytes")
    for name in DATA_FILES:
        shutil.copyfile(source_dir / name, out_dir / name)
        print(f"{name}: copied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
