"""Tallies of the card's merged events table (pyarrow group-bys; ``stats.collect`` uses them).

Each takes the merged table (one row per URL: ``kept``, ``reasons``, ``body_bytes``, ``t``
and the attribution columns, see ``_events.py``) or its excluded rows, and returns plain
dicts and lists, sorted so the card's output is stable: counts descending, then by name.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as _pc

#: pyarrow.compute, untyped: its stubs cannot follow arrays through compute functions.
pc: Any = _pc

__all__ = ["count_codes", "per_key", "timeline", "value_counts"]


def count_codes(excluded: pa.Table, family: bool) -> dict[str, int]:
    reasons = excluded.column("reasons").combine_chunks()
    if len(reasons) == 0:
        return {}
    codes = pc.list_flatten(reasons)
    parents = pc.list_parent_indices(reasons)
    if family:
        codes = pc.list_element(pc.split_pattern(codes, ".", max_splits=1), 0)
    table = pa.table({"code": codes, "row": parents})
    grouped = table.group_by("code").aggregate([("row", "count_distinct")])
    pairs = [
        (str(code), int(n or 0))
        for code, n in zip(
            grouped.column("code").to_pylist(),
            grouped.column("row_count_distinct").to_pylist(),
            strict=True,
        )
    ]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def value_counts(table: pa.Table, column: str, null_as: str) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    values = pc.fill_null(table.column(column), null_as)
    counts = pc.value_counts(values.combine_chunks())
    pairs = [(v["values"].as_py(), v["counts"].as_py()) for v in counts]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def per_key(merged: pa.Table, key: Any, name: str) -> list[dict[str, Any]]:
    table = pa.table(
        {
            name: key,
            "kept": pc.cast(merged.column("kept"), pa.int64()),
            "excluded": pc.cast(pc.invert(merged.column("kept")), pa.int64()),
            "bytes": pc.fill_null(merged.column("body_bytes"), 0),
        }
    )
    grouped = table.group_by(name).aggregate(
        [("kept", "sum"), ("excluded", "sum"), ("bytes", "sum")]
    )
    rows = [
        {name: k, "kept": a, "excluded": b, "kept_body_bytes": c}
        for k, a, b, c in zip(
            grouped.column(name).to_pylist(),
            grouped.column("kept_sum").to_pylist(),
            grouped.column("excluded_sum").to_pylist(),
            grouped.column("bytes_sum").to_pylist(),
            strict=True,
        )
    ]
    return rows


def timeline(merged: pa.Table) -> list[dict[str, Any]]:
    if merged.num_rows == 0:
        return []
    days = pc.strftime(merged.column("t"), format="%Y-%m-%d", locale="C")
    table = pa.table(
        {
            "date": days,
            "kept": pc.cast(merged.column("kept"), pa.int64()),
            "excluded": pc.cast(pc.invert(merged.column("kept")), pa.int64()),
        }
    )
    grouped = table.group_by("date").aggregate([("kept", "sum"), ("excluded", "sum")])
    rows = [
        {"date": d, "kept": k, "excluded": e}
        for d, k, e in zip(
            grouped.column("date").to_pylist(),
            grouped.column("kept_sum").to_pylist(),
            grouped.column("excluded_sum").to_pylist(),
            strict=True,
        )
    ]
    return sorted(rows, key=lambda r: r["date"])
