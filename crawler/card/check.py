"""``heed card --check``: recompute every number from the Parquet and compare a card folder.

Each file of ``RENDERERS`` is rendered again from a fresh :class:`CardStats` and compared with
the file in the folder: JSON files value by value (the differing paths are listed with both
values), text files line by line. A missing file is a difference too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .render import render_all
from .stats import CardStats

__all__ = ["check_card"]

MAX_LISTED = 50


def _diff_json(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{where}: in the card only ({json.dumps(b[key])[:80]})")
            elif key not in b:
                out.append(f"{where}: missing from the card (expected {json.dumps(a[key])[:80]})")
            else:
                _diff_json(a[key], b[key], where, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(b)} entries in the card, {len(a)} recomputed")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff_json(x, y, f"{path}[{i}]", out)
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path}: card says {json.dumps(b)[:80]}, recomputed {json.dumps(a)[:80]}")


def _diff_text(expected: str, found: str, name: str, out: list[str]) -> None:
    want, have = expected.splitlines(), found.splitlines()
    for i in range(max(len(want), len(have))):
        w = want[i] if i < len(want) else "(no line)"
        h = have[i] if i < len(have) else "(no line)"
        if w != h:
            out.append(f"{name} line {i + 1}: card says {h[:100]!r}, recomputed {w[:100]!r}")


def check_card(card: Path, stats: CardStats) -> list[str]:
    """The differences between the card folder ``card`` and the card of ``stats``; empty when
    every file is as ``heed card`` would write it now."""
    out: list[str] = []
    for name, expected in render_all(stats).items():
        path = card / name
        try:
            found = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            out.append(f"{name}: missing from {card}")
            continue
        except (OSError, UnicodeDecodeError) as e:
            out.append(f"{name}: cannot be read ({e})")
            continue
        if found == expected:
            continue
        before = len(out)
        if name.endswith(".json"):
            try:
                _diff_json(json.loads(expected), json.loads(found), name, out)
            except ValueError as e:
                out.append(f"{name}: not JSON ({e})")
        else:
            _diff_text(expected, found, name, out)
        if len(out) == before:  # equal values, other bytes (spacing, key order)
            out.append(f"{name}: differs from the recomputed file in layout only")
    return out
