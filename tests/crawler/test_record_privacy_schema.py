"""The records schema's version-2 columns: attribution, ``redactions``, ``body_kept``."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from crawler._output_schema import OPTIONAL_RECORD_COLUMNS, RECORD_SCHEMA, normalize_record

from .test_output import record

FETCHED = b"<html><p>the page as fetched</p></html>"


def test_optional_columns_are_the_new_nullable_ones_and_default_to_null() -> None:
    assert set(OPTIONAL_RECORD_COLUMNS) == {
        "author", "publisher", "site_name", "published_at", "language", "redactions", "body_kept",
    }  # fmt: skip
    assert not RECORD_SCHEMA.field("body_kept").nullable
    assert RECORD_SCHEMA.field("redactions").type.bit_width == 32
    out = normalize_record(record(1), "run1")
    assert out["body_kept"] is True
    assert all(out[c] is None for c in OPTIONAL_RECORD_COLUMNS if c != "body_kept")


def test_a_required_column_still_cannot_be_left_out() -> None:
    row = record(1)
    del row["title"]
    with pytest.raises(ValueError, match=r"missing keys \['title'\]"):
        normalize_record(row, "run1")


def _dropped(**overrides: Any) -> dict[str, Any]:
    row = {"body": b"", "sha256": hashlib.sha256(FETCHED).hexdigest(), "body_kept": False}
    return record(2, **{**row, **overrides})


def test_a_dropped_body_keeps_the_fetched_sha256() -> None:
    out = normalize_record(_dropped(redactions=3, language="en"), "run1")
    assert out["body"] == b"" and out["sha256"] == hashlib.sha256(FETCHED).hexdigest()
    assert out["redactions"] == 3 and out["language"] == "en"


def test_the_sha256_exception_is_only_for_a_dropped_body() -> None:
    with pytest.raises(ValueError, match="'body_kept' is false but the body is not empty"):
        normalize_record(_dropped(body=FETCHED[:5]), "run1")
    kept_empty = _dropped(body_kept=True)  # an empty body that claims to be kept is checked
    with pytest.raises(ValueError, match="does not match the body"):
        normalize_record(kept_empty, "run1")
    with pytest.raises(ValueError, match="64 lower-case hex"):
        normalize_record(_dropped(sha256="x" * 64), "run1")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("redactions", -1, "must not be negative"),
        ("redactions", 2**31, "outside int32"),
        ("redactions", True, "expected int"),
        ("body_kept", None, "must not be null"),
        ("body_kept", 0, "expected bool"),
        ("author", 5, "expected str"),
        ("language", "\ud800", "UTF-8"),
    ],
)
def test_bad_values_are_refused(column: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_record(record(1, **{column: value}), "run1")
