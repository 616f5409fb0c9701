"""The Parquet schemas of a heed run's output, and per-row validation (SPEC.md §6).

Two tables leave a crawl: ``records`` (one row per kept page, with its content) and
``decisions`` (one row per URL considered, kept or not, never any content). The schemas are
part of heed's public contract: site owners and auditors query these files, so a column is
renamed or retyped only together with ``SCHEMA_VERSION``.

Rows are validated one at a time when they are handed to the writer, not when a row group is
written: a schema drift (a missing or unknown key, a wrong type, a null in a required column)
fails at the call that caused it, and a row group, once buffered, always converts.

Choices where the SPEC is silent (conservative: refuse rather than guess):
- ``body`` is ``large_binary`` and ``text`` ``large_string`` (64-bit offsets), so a reader
  that concatenates a whole run into one array never overflows 2 GiB of offsets.
- Timestamps must be timezone-aware ``datetime`` values; naive ones are refused, because a
  guessed timezone would silently shift audit times. They are stored in UTC, microseconds.
- ``sha256`` must be the lower-case hex SHA-256 of ``body``; a mismatch is refused. The one
  exception is explicit: a row with ``body_kept`` false (``[privacy] keep_body = false``) must
  have an empty ``body``, and its ``sha256`` is then that of the body as fetched (still 64
  hex digits; the writer cannot check it, as the body is not there).
- The columns added in schema version 2 (``OPTIONAL_RECORD_COLUMNS``: attribution, redaction
  count, ``body_kept``) may be left out of a row: null, and ``body_kept`` true. Every other key
  is required, so older writers keep working and still cannot drop a column by mistake.
- ``evidence`` is JSON text: a ``str`` must parse as JSON; a mapping or list is serialised
  (sorted keys, compact, UTF-8).
- Strings must encode as UTF-8 (lone surrogates are refused: Parquet strings are UTF-8).
- ``crawl_id`` may be left out of a row (the writer fills in its own); if given it must match.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from filters.model import Purpose, Stage

__all__ = [
    "DECISION_SCHEMA",
    "OPTIONAL_RECORD_COLUMNS",
    "RECORD_SCHEMA",
    "RECORD_SCHEMA_V1",
    "SCHEMA_VERSION",
    "normalize_decision",
    "normalize_record",
    "upgrade_records",
]

#: Stored in every part's schema metadata as ``heed.schema_version``.
SCHEMA_VERSION = "2"
_METADATA: dict[bytes | str, bytes | str] = {"heed.schema_version": SCHEMA_VERSION}
_UTC_US = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Field[pa.DataType]:
    return pa.field(name, type_, nullable=nullable)


#: One row per kept page (SPEC.md §6 ``records/``), columns in this order.
RECORD_SCHEMA = pa.schema(
    [
        _f("url", pa.string()),
        _f("final_url", pa.string()),
        _f("host", pa.string()),
        _f("fetched_at", _UTC_US),
        _f("http_status", pa.int16()),
        _f("content_type", pa.string()),
        _f("body", pa.large_binary()),
        _f("text", pa.large_string()),
        _f("sha256", pa.string()),
        _f("license", pa.string(), nullable=True),
        _f("license_url", pa.string(), nullable=True),
        _f("license_source", pa.string(), nullable=True),
        _f("license_conflict", pa.bool_()),
        _f("purpose", pa.string()),
        _f("evidence", pa.string()),
        _f("crawl_id", pa.string()),
        _f("engine_version", pa.string()),
        _f("depth", pa.int16()),
        _f("title", pa.string(), nullable=True),
        # schema version 2: attribution (filters/_html_attribution.py) and privacy
        _f("author", pa.string(), nullable=True),
        _f("publisher", pa.string(), nullable=True),
        _f("site_name", pa.string(), nullable=True),
        _f("published_at", pa.string(), nullable=True),
        _f("language", pa.string(), nullable=True),
        _f("redactions", pa.int32(), nullable=True),
        _f("body_kept", pa.bool_()),
    ],
    metadata=_METADATA,
)

#: Record columns a row may leave out, with the value they then take.
OPTIONAL_RECORD_COLUMNS: Mapping[str, object] = {
    "author": None,
    "publisher": None,
    "site_name": None,
    "published_at": None,
    "language": None,
    "redactions": None,
    "body_kept": True,
}

#: The records schema of version 1 (before attribution and redaction): parts written by an
#: earlier heed. Readers accept them (``upgrade_records``); a crawl does not resume into them.
RECORD_SCHEMA_V1 = pa.schema(
    [f for f in RECORD_SCHEMA if f.name not in OPTIONAL_RECORD_COLUMNS],
    metadata={"heed.schema_version": "1"},
)


def upgrade_records(table: pa.Table) -> pa.Table:
    """A version-1 records table with the version-2 columns added (null; ``body_kept`` true),
    in ``RECORD_SCHEMA``'s order; a version-2 table as it is."""
    if table.schema.equals(RECORD_SCHEMA, check_metadata=False):
        return table
    if not table.schema.equals(RECORD_SCHEMA_V1, check_metadata=False):
        raise ValueError("not heed's records schema (version 1 or 2)")
    n = table.num_rows
    columns = []
    for field_ in RECORD_SCHEMA:
        if field_.name in OPTIONAL_RECORD_COLUMNS:
            default = OPTIONAL_RECORD_COLUMNS[field_.name]
            columns.append(pa.array([default] * n, type=field_.type))
        else:
            columns.append(table.column(field_.name))
    return pa.Table.from_arrays(columns, schema=RECORD_SCHEMA)


#: One row per URL considered (SPEC.md §6 ``decisions/``). Never any page content.
DECISION_SCHEMA = pa.schema(
    [
        _f("url", pa.string()),
        _f("host", pa.string()),
        _f("decided_at", _UTC_US),
        _f("stage", pa.string()),
        _f("allowed", pa.bool_()),
        _f("reasons", pa.list_(pa.field("item", pa.string(), nullable=False))),
        _f("license", pa.string(), nullable=True),
        _f("crawl_id", pa.string()),
        _f("final_url", pa.string(), nullable=True),
        _f("http_status", pa.int16(), nullable=True),
    ],
    metadata=_METADATA,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PURPOSES = frozenset(p.value for p in Purpose)
_STAGES = frozenset(s.value for s in Stage)
_INT16 = (-(2**15), 2**15 - 1)
_INT32 = (-(2**31), 2**31 - 1)


def _string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"column {name!r}: expected str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"column {name!r}: not encodable as UTF-8 ({e.reason})") from e
    return str(value)  # plain str, also for StrEnum members


def _binary(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"column {name!r}: expected bytes, got {type(value).__name__}")
    return bytes(value)


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"column {name!r}: expected bool, got {type(value).__name__}")
    return value


def _int(bounds: tuple[int, int], kind: str) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"column {name!r}: expected int, got {type(value).__name__}")
        if not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"column {name!r}: {value} is outside {kind}")
        return int(value)

    return check


_int16 = _int(_INT16, "int16")


def _timestamp(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"column {name!r}: expected datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"column {name!r}: naive datetime (a timezone is required)")
    return value.astimezone(UTC)


def _reasons(name: str, value: object) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError(f"column {name!r}: expected a list of str, got {type(value).__name__}")
    return [_string(name, item) for item in value]


def _evidence(name: str, value: object) -> str:
    if isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise ValueError(f"column {name!r}: not JSON-serialisable ({e})") from e
    text = _string(name, value)
    try:
        json.loads(text)
    except ValueError as e:
        raise ValueError(f"column {name!r}: not valid JSON ({e})") from e
    return text


def _choice(allowed: frozenset[str]) -> Callable[[str, object], str]:
    def check(name: str, value: object) -> str:
        text = _string(name, value)
        if text not in allowed:
            raise ValueError(f"column {name!r}: {text!r} is not one of {sorted(allowed)}")
        return text

    return check


_Check = Callable[[str, object], Any]
_BY_TYPE: dict[pa.DataType, _Check] = {
    pa.string(): _string,
    pa.large_string(): _string,
    pa.large_binary(): _binary,
    pa.bool_(): _bool,
    pa.int16(): _int16,
    pa.int32(): _int(_INT32, "int32"),
    _UTC_US: _timestamp,
}
_SPECIAL: dict[str, _Check] = {
    "evidence": _evidence,
    "purpose": _choice(_PURPOSES),
    "stage": _choice(_STAGES),
    "reasons": _reasons,
}


def _checks(schema: pa.Schema) -> dict[str, tuple[_Check, bool]]:
    return {f.name: (_SPECIAL.get(f.name) or _BY_TYPE[f.type], f.nullable) for f in schema}


_RECORD_CHECKS = _checks(RECORD_SCHEMA)
_DECISION_CHECKS = _checks(DECISION_SCHEMA)


def _normalize(
    kind: str,
    checks: dict[str, tuple[_Check, bool]],
    row: Mapping[str, Any],
    crawl_id: str,
    optional: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise ValueError(f"{kind} row: expected a mapping, got {type(row).__name__}")
    keys = set(row)
    if optional:
        row = {**optional, **row}
    missing = sorted(set(checks) - keys - {"crawl_id"} - set(optional or ()))
    unknown = sorted(str(k) for k in keys - set(checks))
    if missing or unknown:
        raise ValueError(f"{kind} row: missing keys {missing}, unknown keys {unknown}")
    out: dict[str, Any] = {}
    for name, (check, nullable) in checks.items():
        value = row.get(name, crawl_id) if name == "crawl_id" else row[name]
        if value is None:
            if not nullable:
                raise ValueError(f"{kind} row: column {name!r} must not be null")
            out[name] = None
        else:
            out[name] = check(name, value)
    if out["crawl_id"] != crawl_id:
        raise ValueError(f"{kind} row: crawl_id {out['crawl_id']!r} is not {crawl_id!r}")
    return out


def normalize_record(row: Mapping[str, Any], crawl_id: str) -> dict[str, Any]:
    """Validate one ``records`` row and return it in storage form.

    Raises:
        ValueError: naming every missing and unknown key, or the first bad column.
    """
    out = _normalize("record", _RECORD_CHECKS, row, crawl_id, OPTIONAL_RECORD_COLUMNS)
    if not _SHA256.fullmatch(out["sha256"]):
        raise ValueError("record row: column 'sha256' must be 64 lower-case hex digits")
    if not out["body_kept"]:
        if out["body"]:
            raise ValueError("record row: 'body_kept' is false but the body is not empty")
    elif hashlib.sha256(out["body"]).hexdigest() != out["sha256"]:
        raise ValueError("record row: column 'sha256' does not match the body")
    if out["redactions"] is not None and out["redactions"] < 0:
        raise ValueError("record row: column 'redactions' must not be negative")
    return out


def normalize_decision(row: Mapping[str, Any], crawl_id: str) -> dict[str, Any]:
    """Validate one ``decisions`` row and return it in storage form.

    Raises:
        ValueError: naming every missing and unknown key, or the first bad column.
    """
    return _normalize("decision", _DECISION_CHECKS, row, crawl_id)
