"""Tests for crawler/output.py: the Parquet run writer (SPEC.md §6)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler._output_schema import OPTIONAL_RECORD_COLUMNS
from crawler.output import (
    DECISION_SCHEMA,
    RECORD_SCHEMA,
    OutputLockedError,
    RunWriter,
    read_decisions,
    read_records,
)
from filters.reasons import ReasonCode

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def record(i: int, **overrides: Any) -> dict[str, Any]:
    body = f"<html><title>page {i}</title><p>hello {i}</p></html>".encode()
    row: dict[str, Any] = {
        "url": f"https://example.org/p/{i}",
        "final_url": f"https://www.example.org/p/{i}",
        "host": "example.org",
        "fetched_at": T0 + timedelta(seconds=i),
        "http_status": 200,
        "content_type": "text/html; charset=utf-8",
        "body": body,
        "text": f"page {i} hello {i}",
        "sha256": hashlib.sha256(body).hexdigest(),
        "license": "CC-BY-4.0" if i % 2 else None,
        "license_url": "https://creativecommons.org/licenses/by/4.0/" if i % 2 else None,
        "license_source": "html-rel-license" if i % 2 else None,
        "license_conflict": False,
        "purpose": "train-ai",
        "evidence": json.dumps([{"signal": "robots", "verdict": "none"}]),
        "crawl_id": "run1",
        "engine_version": "0.1.0",
        "depth": i % 3,
        "title": f"page {i}",
    }
    row.update(overrides)
    return row


def decision(i: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "url": f"https://example.org/d/{i}",
        "host": "example.org",
        "decided_at": T0 + timedelta(seconds=i),
        "stage": "pre-fetch",
        "allowed": False,
        "reasons": [ReasonCode.ROBOTS_DISALLOW, "robots.ai-agent"],
        "license": None,
        "crawl_id": "run1",
        "final_url": None,
        "http_status": None,
    }
    row.update(overrides)
    return row


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


# --- schema -------------------------------------------------------------------------------


def test_record_schema_columns_types_and_order() -> None:
    expected = [
        ("url", pa.string()),
        ("final_url", pa.string()),
        ("host", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("http_status", pa.int16()),
        ("content_type", pa.string()),
        ("body", pa.large_binary()),
        ("text", pa.large_string()),
        ("sha256", pa.string()),
        ("license", pa.string()),
        ("license_url", pa.string()),
        ("license_source", pa.string()),
        ("license_conflict", pa.bool_()),
        ("purpose", pa.string()),
        ("evidence", pa.string()),
        ("crawl_id", pa.string()),
        ("engine_version", pa.string()),
        ("depth", pa.int16()),
        ("title", pa.string()),
        ("author", pa.string()),
        ("publisher", pa.string()),
        ("site_name", pa.string()),
        ("published_at", pa.string()),
        ("language", pa.string()),
        ("redactions", pa.int32()),
        ("body_kept", pa.bool_()),
    ]
    assert [(f.name, f.type) for f in RECORD_SCHEMA] == expected
    nullable = {f.name for f in RECORD_SCHEMA if f.nullable}
    assert nullable == {
        "license", "license_url", "license_source", "title",
        "author", "publisher", "site_name", "published_at", "language", "redactions",
    }  # fmt: skip
    assert RECORD_SCHEMA.metadata == {b"heed.schema_version": b"2"}


def test_decision_schema_columns_types_and_order() -> None:
    names = [f.name for f in DECISION_SCHEMA]
    assert names == [
        "url",
        "host",
        "decided_at",
        "stage",
        "allowed",
        "reasons",
        "license",
        "crawl_id",
        "final_url",
        "http_status",
    ]
    assert DECISION_SCHEMA.field("decided_at").type == pa.timestamp("us", tz="UTC")
    assert DECISION_SCHEMA.field("reasons").type.value_type == pa.string()
    assert DECISION_SCHEMA.field("http_status").type == pa.int16()
    assert {f.name for f in DECISION_SCHEMA if f.nullable} == {
        "license",
        "final_url",
        "http_status",
    }
    # SPEC §6: decisions never carry page content.
    assert not {"body", "text", "title", "evidence"} & set(names)
    assert DECISION_SCHEMA.metadata == {b"heed.schema_version": b"2"}


# --- round trips ----------------------------------------------------------------------------


def write_run(out: Path, n: int = 5, **kwargs: Any) -> RunWriter:
    writer = RunWriter(out, "run1", **kwargs)
    for i in range(n):
        writer.write_record(record(i))
        writer.write_decision(decision(i))
    writer.close({"purpose": "train-ai"})
    return writer


def test_round_trip_pyarrow(tmp_path: Path) -> None:
    write_run(tmp_path, 5)
    table = read_records(tmp_path)
    assert table.schema.equals(RECORD_SCHEMA, check_metadata=True)
    rows = table.to_pylist()
    assert rows == [{**OPTIONAL_RECORD_COLUMNS, **record(i)} for i in range(5)]
    decisions = read_decisions(tmp_path).to_pylist()
    assert decisions[0]["reasons"] == ["robots.disallow", "robots.ai-agent"]
    assert decisions[0]["http_status"] is None
    for part in parquet_files(tmp_path / "records"):
        schema = pq.read_schema(part)
        assert schema.equals(RECORD_SCHEMA, check_metadata=True)


def test_timestamps_are_stored_as_utc_instants(tmp_path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 12, 0, 0, 1, tzinfo=plus_two)
    with RunWriter(tmp_path, "run1") as writer:
        writer.write_record(record(0, fetched_at=local))
        writer.close({})
    stored = read_records(tmp_path).column("fetched_at")[0].as_py()
    assert stored == local
    assert stored.utcoffset() == timedelta(0)
    assert stored.hour == 10


def test_round_trip_pandas(tmp_path: Path) -> None:
    write_run(tmp_path, 4)
    frame = pd.read_parquet(tmp_path / "records")
    assert list(frame.columns) == RECORD_SCHEMA.names
    assert len(frame) == 4
    assert str(frame["fetched_at"].dtype) == "datetime64[us, UTC]"
    got = frame.sort_values("url").iloc[1]
    assert got["body"] == record(1)["body"]
    assert got["license"] == "CC-BY-4.0"
    assert pd.isna(frame.sort_values("url").iloc[0]["license"])


def test_round_trip_duckdb(tmp_path: Path) -> None:
    write_run(tmp_path, 6, row_group_rows=2, part_max_rows=4)
    assert len(parquet_files(tmp_path / "records")) == 2
    con = duckdb.connect()
    glob = (tmp_path / "records" / "*.parquet").as_posix()
    rows = con.execute(
        f"SELECT url, http_status, license, octet_length(body) FROM read_parquet('{glob}') "
        "ORDER BY url"
    ).fetchall()
    assert [r[0] for r in rows] == [f"https://example.org/p/{i}" for i in range(6)]
    assert rows[1][1:] == (200, "CC-BY-4.0", len(record(1)["body"]))
    dglob = (tmp_path / "decisions" / "*.parquet").as_posix()
    reasons = con.execute(
        f"SELECT DISTINCT unnest(reasons) AS r FROM read_parquet('{dglob}') ORDER BY r"
    ).fetchall()
    assert reasons == [("robots.ai-agent",), ("robots.disallow",)]


def test_parts_are_zstd_compressed(tmp_path: Path) -> None:
    write_run(tmp_path, 3)
    files = parquet_files(tmp_path / "records") + parquet_files(tmp_path / "decisions")
    assert len(files) == 2
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            codecs = {group.column(c).compression for c in range(group.num_columns)}
            assert codecs == {"ZSTD"}


# --- row groups and parts -----------------------------------------------------------------


def row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]


def test_row_group_and_part_bounds(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1", row_group_rows=3, part_max_rows=4)
    for i in range(10):
        writer.write_record(record(i))
    writer.close({})
    parts = parquet_files(tmp_path / "records")
    assert [row_groups(p) for p in parts] == [[3, 1], [3, 1], [2]]
    assert read_records(tmp_path).column("url").to_pylist() == [record(i)["url"] for i in range(10)]


def test_row_group_written_when_buffered_bytes_exceed_bound(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1", row_group_rows=1000)
    big = b"a" * (9 * 1024 * 1024)
    digest = hashlib.sha256(big).hexdigest()
    for i in range(5):
        writer.write_record(record(i, body=big, sha256=digest))
    writer.close({})
    (part,) = parquet_files(tmp_path / "records")
    # 4 x 9 MiB crosses the ~32 MiB buffer bound; the fifth row goes into a second group.
    assert row_groups(part) == [4, 1]


def test_part_closed_at_part_max_bytes(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1", row_group_rows=2, part_max_bytes=1)
    for i in range(5):
        writer.write_record(record(i))
    assert len(parquet_files(tmp_path / "records")) == 2  # each row group filled a part
    writer.close({})
    assert [row_groups(p) for p in parquet_files(tmp_path / "records")] == [[2], [2], [1]]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=40),
    group=st.integers(min_value=1, max_value=9),
    part=st.integers(min_value=1, max_value=12),
)
def test_bounds_property(
    tmp_path_factory: pytest.TempPathFactory, n: int, group: int, part: int
) -> None:
    out = tmp_path_factory.mktemp("prop")
    writer = RunWriter(out, "run1", row_group_rows=group, part_max_rows=part)
    for i in range(n):
        writer.write_decision(decision(i))
    writer.close({})
    parts = parquet_files(out / "decisions")
    for path in parts:
        groups = row_groups(path)
        assert all(0 < g <= group for g in groups)
        assert sum(groups) <= part
    assert read_decisions(out).column("url").to_pylist() == [decision(i)["url"] for i in range(n)]
    assert json.loads((out / "run.json").read_text())["decisions_written"] == n


def test_open_part_is_invisible_until_published(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1", row_group_rows=2, part_max_rows=100)
    for i in range(4):
        writer.write_record(record(i))
    records = tmp_path / "records"
    tmp_files = list(records.glob(".part-*.parquet.tmp"))
    assert len(tmp_files) == 1 and tmp_files[0].stat().st_size > 0
    assert parquet_files(records) == []
    assert read_records(tmp_path).num_rows == 0
    assert pq.read_table(records).num_rows == 0  # the dataset reader skips hidden files too
    published = writer.flush()
    assert published == [records / "part-run1-00000.parquet"]
    assert list(records.glob("*.tmp")) == []
    assert read_records(tmp_path).num_rows == 4
    writer.close({})


def test_maybe_flush_publishes_parts_older_than_interval(tmp_path: Path) -> None:
    now = [100.0]
    writer = RunWriter(tmp_path, "run1", flush_interval=30.0, clock=lambda: now[0])
    writer.write_record(record(0))
    now[0] = 110.0
    writer.write_decision(decision(0))
    assert writer.maybe_flush(125.0) == []
    assert writer.maybe_flush(130.0) == [tmp_path / "records" / "part-run1-00000.parquet"]
    assert writer.maybe_flush(140.0) == [tmp_path / "decisions" / "part-run1-00000.parquet"]
    assert writer.maybe_flush(1000.0) == []  # nothing open, nothing published
    assert read_records(tmp_path).num_rows == 1
    writer.close({})


# --- validation -----------------------------------------------------------------------------


def test_missing_and_unknown_keys_are_named(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1")
    row = record(0)
    del row["sha256"], row["title"]
    row["bodyy"] = b""
    with pytest.raises(
        ValueError, match=r"missing keys \['sha256', 'title'\].*unknown keys \['bodyy'\]"
    ):
        writer.write_record(row)
    with pytest.raises(ValueError, match=r"unknown keys \['body', 'text'\]"):
        writer.write_decision(decision(0, body=b"x", text="x"))
    writer.close({})
    assert read_records(tmp_path).num_rows == 0
    assert read_decisions(tmp_path).num_rows == 0


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("url", None, "'url' must not be null"),
        ("http_status", "200", "'http_status': expected int"),
        ("http_status", True, "'http_status': expected int"),
        ("depth", 70000, "outside int16"),
        ("fetched_at", datetime(2025, 1, 1), "naive datetime"),
        ("body", "text not bytes", "'body': expected bytes"),
        ("sha256", "0" * 64, "does not match the body"),
        ("sha256", "ABC", "64 lower-case hex"),
        ("license_conflict", 0, "'license_conflict': expected bool"),
        ("purpose", "scraping", "'purpose': 'scraping' is not one of"),
        ("evidence", "{not json", "'evidence': not valid JSON"),
        ("text", "bad \ud800 surrogate", "'text': not encodable as UTF-8"),
        ("crawl_id", "other-run", "crawl_id 'other-run' is not 'run1'"),
    ],
)
def test_bad_record_values_are_refused(
    tmp_path: Path, column: str, value: object, message: str
) -> None:
    writer = RunWriter(tmp_path, "run1")
    with pytest.raises(ValueError, match=message):
        writer.write_record(record(0, **{column: value}))
    writer.close({})
    assert read_records(tmp_path).num_rows == 0


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("stage", "during-fetch", "'stage': 'during-fetch' is not one of"),
        ("reasons", "robots.disallow", "'reasons': expected a list"),
        ("reasons", ["ok", 3], "'reasons': expected str"),
        ("allowed", None, "'allowed' must not be null"),
        ("decided_at", "2025-01-01T00:00:00Z", "'decided_at': expected datetime"),
    ],
)
def test_bad_decision_values_are_refused(
    tmp_path: Path, column: str, value: object, message: str
) -> None:
    writer = RunWriter(tmp_path, "run1")
    with pytest.raises(ValueError, match=message):
        writer.write_decision(decision(0, **{column: value}))
    writer.close({})


def test_crawl_id_is_filled_in_and_evidence_mapping_serialised(tmp_path: Path) -> None:
    row = record(3, evidence={"signals": [{"signal": "robots", "verdict": "none"}], "a": "é"})
    del row["crawl_id"]
    with RunWriter(tmp_path, "run1") as writer:
        writer.write_record(row)
        writer.close({})
    got = read_records(tmp_path).to_pylist()[0]
    assert got["crawl_id"] == "run1"
    assert json.loads(got["evidence"]) == {
        "a": "é",
        "signals": [{"signal": "robots", "verdict": "none"}],
    }


@pytest.mark.parametrize("crawl_id", ["", "../escape", "a/b", ".hidden", "x" * 129])
def test_crawl_id_unfit_for_file_names_is_refused(tmp_path: Path, crawl_id: str) -> None:
    with pytest.raises(ValueError, match="crawl_id"):
        RunWriter(tmp_path, crawl_id)


def test_closed_writer_refuses_rows(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1")
    writer.close({})
    with pytest.raises(ValueError, match="closed"):
        writer.write_record(record(0))
    with pytest.raises(ValueError, match="closed"):
        writer.close({})


# --- runs sharing a directory -----------------------------------------------------------------


def test_sequence_continues_across_writers(tmp_path: Path) -> None:
    write_run(tmp_path, 4, row_group_rows=2, part_max_rows=2)
    first = {p.name: p.read_bytes() for p in parquet_files(tmp_path / "records")}
    assert sorted(first) == ["part-run1-00000.parquet", "part-run1-00001.parquet"]
    writer = RunWriter(tmp_path, "run2", row_group_rows=2, part_max_rows=2)
    for i in range(3):
        writer.write_record(record(i, crawl_id="run2"))
    writer.close({})
    names = [p.name for p in parquet_files(tmp_path / "records")]
    assert names[2:] == ["part-run2-00002.parquet", "part-run2-00003.parquet"]
    for name, data in first.items():
        assert (tmp_path / "records" / name).read_bytes() == data
    table = read_records(tmp_path)
    assert table.column("crawl_id").to_pylist() == ["run1"] * 4 + ["run2"] * 3


def test_stale_temporaries_are_removed_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    stale = records / ".part-old-00009.parquet.tmp"
    stale.write_bytes(b"PAR1 half a file")
    keep = records / "notes.txt"
    keep.write_text("not ours")
    with caplog.at_level(logging.WARNING, logger="crawler.output"):
        writer = RunWriter(tmp_path, "run1")
    assert not stale.exists()
    assert keep.exists()
    assert any(".part-old-00009.parquet.tmp" in r.getMessage() for r in caplog.records)
    writer.close({})


def test_second_live_writer_is_refused(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1")
    writer.write_record(record(0))
    with pytest.raises(OutputLockedError):
        RunWriter(tmp_path, "run2")
    writer.close({})
    RunWriter(tmp_path, "run2").close({})  # released on close


def test_run_json_merges_counts_and_keeps_previous_runs(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, "run1", part_max_rows=2)
    for i in range(3):
        writer.write_record(record(i))
    writer.write_decision(decision(0))
    started = datetime(2025, 1, 1, tzinfo=UTC)
    writer.close({"started_at": started, "records_written": 999, "counts": {"a": 1}})
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["records_written"] == 3
    assert info["decisions_written"] == 1
    assert info["started_at"] == "2025-01-01T00:00:00+00:00"
    assert info["parts"]["records"] == [
        "records/part-run1-00000.parquet",
        "records/part-run1-00001.parquet",
    ]
    assert info["crawl_id"] == "run1" and info["schema_version"] == "2"
    assert not list(tmp_path.glob(".run.json*"))

    second = RunWriter(tmp_path, "run2")
    second.close({"counts": {"b": 2}})
    info2 = json.loads((tmp_path / "run.json").read_text())
    assert info2["crawl_id"] == "run2" and info2["records_written"] == 0
    assert [p["crawl_id"] for p in info2["previous_runs"]] == ["run1"]
    assert info2["previous_runs"][0]["counts"] == {"a": 1}


def test_exception_in_with_block_publishes_rows_without_run_json(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), RunWriter(tmp_path, "run1") as writer:
        writer.write_record(record(0))
        raise RuntimeError("boom")
    assert read_records(tmp_path).num_rows == 1
    assert not (tmp_path / "run.json").exists()


def test_read_refuses_a_foreign_part(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    pq.write_table(pa.table({"url": ["x"]}), tmp_path / "records" / "part-x-00000.parquet")
    with pytest.raises(ValueError, match=r"part-x-00000\.parquet"):
        read_records(tmp_path)


# --- a killed run leaves only complete parts ----------------------------------------------------

CHILD = textwrap.dedent(
    """
    import hashlib, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from crawler.output import RunWriter

    writer = RunWriter(Path(sys.argv[1]), "killed", row_group_rows=5, part_max_rows=20)
    body = bytes(range(256)) * 256
    digest = hashlib.sha256(body).hexdigest()
    i = 0
    while True:
        writer.write_record({
            "url": f"https://example.org/{i}", "final_url": f"https://example.org/{i}",
            "host": "example.org", "fetched_at": datetime.now(UTC), "http_status": 200,
            "content_type": "text/plain", "body": body, "text": "t" * 1000, "sha256": digest,
            "license": None, "license_url": None, "license_source": None,
            "license_conflict": False, "purpose": "train-ai", "evidence": "[]",
            "engine_version": "0", "depth": 0, "title": None,
        })
        i += 1
    """
)


def test_sigkill_leaves_only_complete_parts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], cwd=REPO, env=env)
    records = out / "records"
    try:
        deadline = time.monotonic() + 60
        while len(parquet_files(records)) < 3:
            assert child.poll() is None, "the writer process exited early"
            assert time.monotonic() < deadline, "no parts appeared within 60 s"
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    parts = parquet_files(records)
    assert len(parts) >= 3
    for part in parts:
        table = pq.read_table(part)
        assert table.schema.equals(RECORD_SCHEMA, check_metadata=True)
        assert table.num_rows == 20 == pq.ParquetFile(part).metadata.num_rows
        assert table.column("body").null_count == 0
    # The next writer removes the killed run's temporary part and continues the sequence.
    writer = RunWriter(out, "after")
    assert list(records.glob(".part-*.tmp")) == []
    writer.write_record(record(0, crawl_id="after"))
    (new,) = writer.flush()
    writer.close({})
    assert new.name == f"part-after-{len(parts):05d}.parquet"
    assert read_records(out).num_rows == 20 * len(parts) + 1
