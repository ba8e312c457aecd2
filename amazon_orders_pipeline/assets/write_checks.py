"""What both writes to Amazon report per pass: their warn checks, each with the rows it found as a table."""

import dagster as dg


def table(rows: list[dict], where: str, limit: int = 50) -> dg.MetadataValue:
    """Rows as a Markdown table in the metadata, the first `limit` of them; `where` says where the rest are."""
    if not rows:
        return dg.MetadataValue.md("none")
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]).replace("|", "\\|") for h in head) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n{len(rows) - limit} more in DuckDB ({where})")
    return dg.MetadataValue.md("\n".join(lines))


def warn_check(key: dg.AssetKey, name: str, rows: list[dict], where: str) -> dg.AssetCheckResult:
    """A check that passes when a pass found no such rows, and warns (never blocks) with them otherwise."""
    return dg.AssetCheckResult(check_name=name, asset_key=key, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"count": len(rows), "rows": table(rows, where)})
