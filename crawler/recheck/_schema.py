"""The Parquet schemas of a recheck's report tables, and per-row validation.

Private to ``crawler/recheck/output.py`` (which exports the schemas); the columns are
documented in ``docs/recheck.md`` ("Output"). Rows are checked one by one when they are handed
to the writer, with the crawl output's own checkers (``crawler/_output_schema.py``): a missing
or unknown key, a wrong type, a null in a required column or a reason code that is not in
``filters.reasons.ReasonCode`` is a ``ValueError`` naming the column, raised before anything of
the batch is written. Nullable columns (and ``documents_changed``, default ``[]``) may be left
out of a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from filters.reasons import ReasonCode

from .._output_schema import _bool, _choice, _string, _timestamp
from .._output_schema import _reasons as _string_list

__all__ = [
    "CHANGE_SCHEMA",
    "FLAGS",
    "FLAG_SCHEMA",
    "REMOVAL_SCHEMA",
    "SCHEMA_VERSION",
    "normalize_change",
    "normalize_flag",
    "normalize_removal",
]

#: Stored in every report part's schema metadata as ``heed.recheck_schema_version``.
SCHEMA_VERSION = "1"
_METADATA: dict[bytes | str, bytes | str] = {"heed.recheck_schema_version": SCHEMA_VERSION}
_UTC_US = pa.timestamp("us", tz="UTC")
FLAGS = frozenset({"gone", "unreachable", "body-changed", "license-changed"})
_DOCUMENTS = frozenset({"robots.txt", "ai.txt", "tdmrep.json"})
_REASONS = frozenset(r.value for r in ReasonCode)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _f(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Field[pa.DataType]:
    return pa.field(name, type_, nullable=nullable)


_DOCUMENT_CHANGED = pa.struct(
    [
        _f("url", pa.string()),
        _f("old_sha256", pa.string(), True),
        _f("new_sha256", pa.string(), True),
        _f("fetched_at", pa.string(), True),
    ]
)

#: One row per removed input row (``removals/``).
REMOVAL_SCHEMA = pa.schema(
    [
        _f("url", pa.string()),
        _f("host", pa.string()),
        _f("reasons", pa.list_(pa.field("item", pa.string(), nullable=False))),
        _f("stage", pa.string()),
        _f("http_status", pa.int32(), True),
        _f("final_url", pa.string(), True),
        _f("earlier_allowed", pa.bool_(), True),
        _f("earlier_license", pa.string(), True),
        _f("earlier_crawl_id", pa.string(), True),
        _f("earlier_fetched_at", _UTC_US, True),
        _f("license", pa.string(), True),
        _f("documents_changed", pa.list_(pa.field("item", _DOCUMENT_CHANGED, nullable=False))),
        _f("checked_at", _UTC_US),
    ],
    metadata=_METADATA,
)

#: One row per flagged input row, kept or not (``flags/``).
FLAG_SCHEMA = pa.schema(
    [
        _f("url", pa.string()),
        _f("host", pa.string()),
        _f("flag", pa.string()),
        _f("kept", pa.bool_()),
        _f("http_status", pa.int32(), True),
        _f("detail", pa.string(), True),
        _f("checked_at", _UTC_US),
    ],
    metadata=_METADATA,
)

#: One row per origin and site document (``changes/part-000000.parquet``).
CHANGE_SCHEMA = pa.schema(
    [
        _f("origin", pa.string()),
        _f("document", pa.string()),
        _f("url", pa.string()),
        _f("old_sha256", pa.string(), True),
        _f("new_sha256", pa.string(), True),
        _f("old_status", pa.int32(), True),
        _f("new_status", pa.int32(), True),
        _f("changed", pa.bool_()),
        _f("rows_removed", pa.int64()),
        _f("checked_at", _UTC_US),
    ],
    metadata=_METADATA,
)


def _integer(bounds: tuple[int, int]) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"column {name!r}: expected int, got {type(value).__name__}")
        if not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"column {name!r}: {value} is out of range")
        return int(value)

    return check


def _sha256(name: str, value: object) -> str:
    text = _string(name, value)
    if not _SHA256.fullmatch(text):
        raise ValueError(f"column {name!r}: expected 64 lower-case hex digits")
    return text


def _reason_codes(name: str, value: object) -> list[str]:
    codes = _string_list(name, value)
    if not codes:
        raise ValueError(f"column {name!r}: a removal needs at least one reason code")
    unknown = sorted(set(codes) - _REASONS)
    if unknown:
        raise ValueError(f"column {name!r}: not reason codes (SPEC.md §5): {unknown}")
    return codes


def _document(name: str, value: object) -> str:
    text = _string(name, value)
    if text not in _DOCUMENTS and not (text.startswith("rsl:") and len(text) > 4):
        raise ValueError(
            f"column {name!r}: {text!r} is not robots.txt, ai.txt, tdmrep.json or rsl:<url>"
        )
    return text


_Check = Callable[[str, object], Any]
_Columns = dict[str, tuple[_Check, bool]]  # name -> (check, nullable)


def _documents_changed(name: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"column {name!r}: expected a list, got {type(value).__name__}")
    return [_normalize(f"{name} item", _DOCUMENT_COLUMNS, item) for item in value]


_DOCUMENT_COLUMNS: _Columns = {
    "url": (_string, False),
    "old_sha256": (_sha256, True),
    "new_sha256": (_sha256, True),
    "fetched_at": (_string, True),
}
_REMOVAL_COLUMNS: _Columns = {
    "url": (_string, False),
    "host": (_string, False),
    "reasons": (_reason_codes, False),
    "stage": (_choice(frozenset({"pre-fetch", "post-fetch"})), False),
    "http_status": (_integer(_INT32), True),
    "final_url": (_string, True),
    "earlier_allowed": (_bool, True),
    "earlier_license": (_string, True),
    "earlier_crawl_id": (_string, True),
    "earlier_fetched_at": (_timestamp, True),
    "license": (_string, True),
    "documents_changed": (_documents_changed, False),
    "checked_at": (_timestamp, False),
}
_FLAG_COLUMNS: _Columns = {
    "url": (_string, False),
    "host": (_string, False),
    "flag": (_choice(FLAGS), False),
    "kept": (_bool, False),
    "http_status": (_integer(_INT32), True),
    "detail": (_string, True),
    "checked_at": (_timestamp, False),
}
_CHANGE_COLUMNS: _Columns = {
    "origin": (_string, False),
    "document": (_document, False),
    "url": (_string, False),
    "old_sha256": (_sha256, True),
    "new_sha256": (_sha256, True),
    "old_status": (_integer(_INT32), True),
    "new_status": (_integer(_INT32), True),
    "changed": (_bool, False),
    "rows_removed": (_integer(_INT64), False),
    "checked_at": (_timestamp, False),
}
_DEFAULTS: dict[str, Any] = {"documents_changed": []}


def _normalize(kind: str, columns: _Columns, row: object) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise ValueError(f"{kind} row: expected a mapping, got {type(row).__name__}")
    unknown = sorted(str(k) for k in set(row) - set(columns))
    missing = sorted(
        n
        for n, (_, nullable) in columns.items()
        if n not in row and not nullable and n not in _DEFAULTS
    )
    if missing or unknown:
        raise ValueError(f"{kind} row: missing keys {missing}, unknown keys {unknown}")
    out: dict[str, Any] = {}
    for name, (check, nullable) in columns.items():
        value = row.get(name, _DEFAULTS.get(name))
        if value is None:
            if not nullable:
                raise ValueError(f"{kind} row: column {name!r} must not be null")
            out[name] = None
        else:
            out[name] = check(name, value)
    return out


def normalize_removal(row: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one ``removals`` row (``REMOVAL_SCHEMA``) and return it in storage form.

    Raises:
        ValueError: naming the missing and unknown keys, or the first bad column.
    """
    return _normalize("removal", _REMOVAL_COLUMNS, row)


def normalize_flag(row: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one ``flags`` row (``FLAG_SCHEMA``).

    Raises:
        ValueError: naming the missing and unknown keys, or the first bad column.
    """
    return _normalize("flag", _FLAG_COLUMNS, row)


def normalize_change(row: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one ``changes`` row (``CHANGE_SCHEMA``).

    Raises:
        ValueError: naming the missing and unknown keys, or the first bad column.
    """
    return _normalize("change", _CHANGE_COLUMNS, row)
