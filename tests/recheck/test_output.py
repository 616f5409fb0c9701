"""Tests for crawler/recheck/output.py: the recheck output folder, read back for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawler.output import RECORD_SCHEMA, OutputWriteError
from crawler.recheck import _schema
from crawler.recheck.dataset import Dataset, open_dataset
from crawler.recheck.output import (
    CHANGE_SCHEMA,
    FLAG_SCHEMA,
    REMOVAL_SCHEMA,
    RecheckWriter,
)
from filters import ConfigError

from .test_dataset import heed_folder, urls

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def removal(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "host": url.split("/")[2] if "://" in url else "",
        "reasons": ["robots.disallow"],
        "stage": "pre-fetch",
        "checked_at": NOW,
        **extra,
    }


def flag(url: str, name: str = "gone", kept: bool = True) -> dict[str, Any]:
    return {"url": url, "host": "a.example", "flag": name, "kept": kept, "checked_at": NOW}


CHANGE = {
    "origin": "https://a.example",
    "document": "robots.txt",
    "url": "https://a.example/robots.txt",
    "old_sha256": "a" * 64,
    "new_sha256": "b" * 64,
    "old_status": 200,
    "new_status": 200,
    "changed": True,
    "rows_removed": 2,
    "checked_at": NOW,
}


def removed_by_number(url: str) -> bool:
    """The test's policy: a URL whose last number is divisible by 3 is removed."""
    tail = url.rsplit("/", 1)[-1]
    return not tail.isdigit() or int(tail) % 3 == 0


def recheck(
    writer: RecheckWriter,
    ds: Dataset,
    rows: int = 8192,
    *,
    removed: Callable[[str], bool] = removed_by_number,
    only: set[int] | None = None,
) -> list[str]:
    """Write every batch not done (or only ``only``) the way the driver does; return the
    removed URLs in input order."""
    gone: list[str] = []
    for index, batch in ds.batches(rows):
        batch_urls = batch.column(ds.url_column).to_pylist()
        keep = [not removed(u) for u in batch_urls]
        gone += [u for u, k in zip(batch_urls, keep, strict=True) if not k]
        if index in writer.done or (only is not None and index not in only):
            continue
        removals = [removal(u) for u, k in zip(batch_urls, keep, strict=True) if not k]
        writer.write_batch(index, batch, keep, removals, [])
    return gone


def parquet_input(tmp_path: Path, n: int = 30) -> Path:
    df = pd.DataFrame({"url": urls(n), "text": [f"text {i}" for i in range(n)]})
    df.to_parquet(tmp_path / "input.parquet")  # pandas metadata in the schema
    return tmp_path / "input.parquet"


# -- reading the output back ---------------------------------------------------------------


def test_a_heed_recheck_reads_back_with_pyarrow_pandas_duckdb(tmp_path: Path) -> None:
    ds = open_dataset(heed_folder(tmp_path / "crawl", 30))
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1", batch_rows=8) as writer:
        gone = recheck(writer, ds, 8)
        writer.write_changes([])
        writer.close({"counts": {"robots.disallow": len(gone)}})
    kept = [u for u in urls(30) if not removed_by_number(u)]
    table = pq.read_table(out / "records")
    assert table.schema.equals(RECORD_SCHEMA)  # heed's schema, its version metadata too
    assert table.schema.metadata == RECORD_SCHEMA.metadata
    assert table.column("url").to_pylist() == kept
    assert pd.read_parquet(out / "records")["url"].tolist() == kept
    got = duckdb.sql(f"SELECT url FROM read_parquet('{out}/records/*.parquet')").fetchall()
    assert sorted(u for (u,) in got) == sorted(kept)
    rem = pq.read_table(out / "removals")
    assert rem.schema.equals(REMOVAL_SCHEMA)
    assert rem.column("url").to_pylist() == gone
    assert (out / "removed-urls.txt").read_text().splitlines() == gone
    info = json.loads((out / "run.json").read_text())
    assert info["counts"] == {"robots.disallow": 10}
    assert info["input_kind"] == "heed"
    assert info["rows"] == {"rows": 30, "kept": 20, "removed": 10, "flagged": 0}
    assert info["batches"]["done"] == 4
    assert open_dataset(out).kind == "heed"  # a recheck output can be rechecked again


def test_records_read_back_with_hugging_face_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = open_dataset(parquet_input(tmp_path))
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1", batch_rows=8) as writer:
        recheck(writer, ds, 8)
        writer.close({})
    hf = datasets.load_dataset(
        "parquet",
        data_files={"train": str(out / "records" / "*.parquet")},
        split="train",
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert sorted(hf["url"]) == sorted(u for u in urls(30) if not removed_by_number(u))
    assert set(hf.column_names) == {"url", "text"}


def test_a_parquet_records_part_keeps_the_inputs_own_schema(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1") as writer:
        recheck(writer, ds)
        writer.close({})
    written = pq.read_schema(out / "records" / "part-000000.parquet")
    assert written.equals(ds.schema, check_metadata=True)
    assert b"pandas" in (written.metadata or {})
    assert pd.read_parquet(out / "records").columns.tolist() == ["url", "text"]


def test_jsonl_kept_lines_are_written_back_byte_exact(tmp_path: Path) -> None:
    lines = [
        b'{"url": "https://a.example/p/1", "text": "caf\xc3\xa9 \\u00e9"}',
        b'{  "text": "spacing kept",   "url":"https://a.example/p/2"  }\r',
        b'{"url": "https://a.example/p/3"}',
        b"junk line",
        b'{"url": "https://a.example/p/4", "n": 1.50}',
        b'{"url": "https://a.example/p/6", "deep": {"a": [1, 2, {"b": null}]}}',
    ]
    (tmp_path / "d.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    ds = open_dataset(tmp_path / "d.jsonl")
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1", batch_rows=2) as writer:
        gone = recheck(writer, ds, 2)
        writer.close({})
    assert gone == ["https://a.example/p/3", "", "https://a.example/p/6"]
    parts = sorted((out / "records").glob("part-*.jsonl"))
    assert [p.name for p in parts] == [
        "part-000000.jsonl",
        "part-000001.jsonl",
        "part-000002.jsonl",
    ]
    written = b"".join(p.read_bytes() for p in parts)
    assert written == b"".join(lines[i] + b"\n" for i in (0, 1, 4))
    assert not list((out / "records").glob("*.parquet"))  # no __line__ columns anywhere
    # the junk line is in removals/ (url "") but not in the list a host applies
    assert pq.read_table(out / "removals").column("url").to_pylist() == gone
    assert (out / "removed-urls.txt").read_text().splitlines() == [gone[0], gone[2]]


def test_jsonl_everything_kept_is_the_input_file(tmp_path: Path) -> None:
    data = b"".join(json.dumps({"url": u, "i": i}).encode() + b"\n" for i, u in enumerate(urls(9)))
    (tmp_path / "d.jsonl.gz").write_bytes(__import__("gzip").compress(data))
    ds = open_dataset(tmp_path / "d.jsonl.gz")
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1", batch_rows=4) as writer:
        recheck(writer, ds, 4, removed=lambda u: False)
        writer.close({})
    parts = sorted((out / "records").glob("part-*.jsonl"))
    assert b"".join(p.read_bytes() for p in parts) == data
    assert (out / "removed-urls.txt").read_bytes() == b""


def test_flags_and_changes_parts(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path, 5))
    out = tmp_path / "out"
    change = CHANGE
    with RecheckWriter(out, ds, run_id="r1") as writer:
        ((index, batch),) = ds.batches()
        keep = [True] * 5
        writer.write_batch(index, batch, keep, [], [flag(urls(5)[1], "gone")])
        writer.write_changes([change, {**change, "document": "rsl:https://a.example/l.xml"}])
        with pytest.raises(ValueError, match="once"):
            writer.write_changes([])
        writer.close({})
    flags = pq.read_table(out / "flags")
    assert flags.schema.equals(FLAG_SCHEMA)
    assert flags.to_pylist() == [{**flag(urls(5)[1]), "http_status": None, "detail": None}]
    changes = pq.read_table(out / "changes" / "part-000000.parquet")
    assert changes.schema.equals(CHANGE_SCHEMA)
    assert changes.column("document").to_pylist() == ["robots.txt", "rsl:https://a.example/l.xml"]
    assert pq.read_table(out / "removals").num_rows == 0  # an empty part, still readable


def test_removals_are_stored_in_input_order_whatever_order_they_came_in(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path, 10))
    out = tmp_path / "out"
    ((index, batch),) = ds.batches()
    keep = [not removed_by_number(u) for u in urls(10)]
    gone = [u for u, k in zip(urls(10), keep, strict=True) if not k]
    with RecheckWriter(out, ds, run_id="r1") as writer:
        writer.write_batch(index, batch, keep, [removal(u) for u in reversed(gone)], [])
        writer.close({})
    assert pq.read_table(out / "removals").column("url").to_pylist() == gone


# -- what the writer refuses ---------------------------------------------------------------


@pytest.fixture
def opened(tmp_path: Path) -> tuple[RecheckWriter, Dataset, pa.RecordBatch]:
    ds = open_dataset(parquet_input(tmp_path, 6))
    ((_, batch),) = ds.batches()
    return RecheckWriter(tmp_path / "out", ds, run_id="r1"), ds, batch


def nothing_written(out: Path) -> bool:
    return not any(
        p.is_file()
        for sub in ("records", "removals", "flags", ".done")
        for p in (out / sub).iterdir()
    )


@pytest.mark.parametrize(
    ("keep", "rows", "message"),
    [
        ([True] * 6, [removal(urls(6)[0])], "no removed row of the batch has that URL"),
        ([False] + [True] * 5, [], "1 removed row.s. have no removal row"),
        ([False] * 2 + [True] * 4, [removal(urls(6)[0])] * 2, "no removed row"),
        ([True] * 5, [], "5 values for a batch of 6 rows"),
        ([1, 1, 1, 1, 1, 1], [], "expected a list of bool"),
        (pa.array([True, None, True, True, True, True]), [], "without nulls"),
        ([False] + [True] * 5, [removal(urls(6)[0], reasons=[])], "at least one reason"),
        ([False] + [True] * 5, [removal(urls(6)[0], reasons=["made.up"])], "made.up"),
        ([False] + [True] * 5, [removal(urls(6)[0], stage="later")], "'stage'"),
        ([False] + [True] * 5, [removal(urls(6)[0], http_status=2**40)], "'http_status'"),
        ([False] + [True] * 5, [removal(urls(6)[0], checked_at=datetime(2026, 1, 1))], "naive"),
        ([False] + [True] * 5, [removal(urls(6)[0], colour="red")], "unknown keys .'colour'."),
        ([False] + [True] * 5, [{"url": urls(6)[0]}], "missing keys"),
        (
            [False] + [True] * 5,
            [removal(urls(6)[0], documents_changed=[{"url": "u", "old_sha256": "AB"}])],
            "'old_sha256'",
        ),
    ],
)
def test_a_bad_batch_is_refused_before_anything_is_written(
    opened: tuple[RecheckWriter, Dataset, pa.RecordBatch],
    keep: Any,
    rows: list[dict[str, Any]],
    message: str,
) -> None:
    writer, _, batch = opened
    with writer, pytest.raises(ValueError, match=message):
        writer.write_batch(0, batch, keep, rows, [])
    assert nothing_written(writer.out_dir)
    assert writer.done == frozenset()


def test_a_bad_flag_or_change_row_is_refused(
    opened: tuple[RecheckWriter, Dataset, pa.RecordBatch],
) -> None:
    writer, _, batch = opened
    with writer:
        with pytest.raises(ValueError, match="'flag'"):
            writer.write_batch(0, batch, [True] * 6, [], [flag(urls(6)[0], "vanished")])
        with pytest.raises(ValueError, match="'document'"):
            writer.write_changes([{**CHANGE, "document": "humans.txt"}])
        assert nothing_written(writer.out_dir)


def test_a_batch_of_another_schema_or_size_or_written_twice_is_refused(
    opened: tuple[RecheckWriter, Dataset, pa.RecordBatch],
) -> None:
    writer, _, batch = opened
    with writer:
        other = pa.RecordBatch.from_pydict({"url": urls(6)})
        with pytest.raises(ValueError, match="schema"):
            writer.write_batch(0, other, [True] * 6, [], [])
        writer.write_batch(0, batch, [True] * 6, [], [])
        with pytest.raises(ValueError, match="already done"):
            writer.write_batch(0, batch, [True] * 6, [], [])
    small = RecheckWriter(writer.out_dir.parent / "o2", writer.dataset, run_id="r", batch_rows=5)
    with small, pytest.raises(ValueError, match="more than batch_rows"):
        small.write_batch(0, batch, [True] * 6, [], [])


def test_each_validator_covers_its_schema() -> None:
    pairs = [
        (_schema._REMOVAL_COLUMNS, REMOVAL_SCHEMA),
        (_schema._FLAG_COLUMNS, FLAG_SCHEMA),
        (_schema._CHANGE_COLUMNS, CHANGE_SCHEMA),
    ]
    for columns, schema in pairs:
        assert list(columns) == schema.names
        assert [n for n, (_, nullable) in columns.items()] == schema.names
        assert {n: nullable for n, (_, nullable) in columns.items()} == {
            f.name: f.nullable for f in schema
        }


# -- the folder: where it may be, whose it is ----------------------------------------------


def listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_out_dir_must_not_be_the_input_inside_it_or_around_it(tmp_path: Path) -> None:
    crawl = heed_folder(tmp_path / "crawl", 3)
    ds = open_dataset(crawl)
    before = listing(tmp_path)
    for out, what in [
        (crawl, "is the input"),
        (crawl / "records" / "new", "is inside the input"),
        (tmp_path, "contains the input"),
        (tmp_path / "crawl" / ".." / "crawl", "is the input"),
    ]:
        with pytest.raises(ConfigError, match=what):
            RecheckWriter(out, ds, run_id="r1")
    (tmp_path / "d.jsonl").write_bytes(b'{"url": "https://a/"}\n')
    with pytest.raises(ConfigError, match="contains the input"):
        RecheckWriter(tmp_path, open_dataset(tmp_path / "d.jsonl"), run_id="r1")
    (tmp_path / "d.jsonl").unlink()
    assert listing(tmp_path) == before  # nothing created anywhere


def test_a_symlink_to_the_input_is_the_input(tmp_path: Path) -> None:
    crawl = heed_folder(tmp_path / "crawl", 3)
    (tmp_path / "link").symlink_to(crawl)
    with pytest.raises(ConfigError, match="is the input"):
        RecheckWriter(tmp_path / "link", open_dataset(crawl), run_id="r1")


def test_a_foreign_folder_is_refused_and_left_untouched(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match=r"is not empty \(notes.txt\)"):
        RecheckWriter(mine, ds, run_id="r1")
    assert listing(mine) == ["notes.txt"]
    crawl = heed_folder(tmp_path / "crawl", 2)  # a crawl's output is not a recheck's either
    before = listing(crawl)
    with pytest.raises(ConfigError, match="is not empty"):
        RecheckWriter(crawl, ds, run_id="r1")
    assert listing(crawl) == before


def test_a_file_of_the_users_in_a_recheck_output_is_refused(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    out = tmp_path / "out"
    RecheckWriter(out, ds, run_id="r1").close({})
    (out / "mine.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match=r"holds files that are not a recheck's \(mine.csv\)"):
        RecheckWriter(out, ds, run_id="r2")


def test_an_empty_or_missing_folder_is_fine(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        RecheckWriter(out, ds, run_id="r1").close({})
        assert (out / ".heed-recheck").is_file()


def test_a_folder_held_by_another_writer_is_refused(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    with (
        RecheckWriter(tmp_path / "out", ds, run_id="r1"),
        pytest.raises(ConfigError, match="another heed writer is using it"),
    ):
        RecheckWriter(tmp_path / "out", ds, run_id="r2")
    RecheckWriter(tmp_path / "out", ds, run_id="r3").close({})  # released by `with`


def test_a_recheck_of_another_input_or_batch_size_is_refused(tmp_path: Path) -> None:
    path = parquet_input(tmp_path)
    out = tmp_path / "out"
    with RecheckWriter(out, open_dataset(path), run_id="r1", batch_rows=8) as writer:
        recheck(writer, open_dataset(path), 8, only={0})
    with pytest.raises(ConfigError, match=r"batch_rows 8 \(now 16\)"):
        RecheckWriter(out, open_dataset(path), run_id="r2", batch_rows=16)
    (tmp_path / "other").mkdir()
    other = parquet_input(tmp_path / "other")
    with pytest.raises(ConfigError, match="another input"):
        RecheckWriter(out, open_dataset(other), run_id="r2", batch_rows=8)
    parquet_input(tmp_path, 31)  # the same path, changed since
    with pytest.raises(ConfigError, match="the input changed since"):
        RecheckWriter(out, open_dataset(path), run_id="r2", batch_rows=8)


# -- resuming ------------------------------------------------------------------------------


def test_a_killed_recheck_resumes_without_writing_anything_twice(tmp_path: Path) -> None:
    crawl = heed_folder(tmp_path / "crawl", 40)
    out = tmp_path / "out"
    # A real kill: a process writes batches 0 and 1, then SIGKILLs itself mid-recheck.
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from tests.recheck.test_output import open_dataset, recheck, RecheckWriter
        ds = open_dataset({str(crawl)!r})
        writer = RecheckWriter({str(out)!r}, ds, run_id="first", batch_rows=8)
        recheck(writer, ds, 8, only={{0, 1}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "run.json").exists()

    ds = open_dataset(crawl)
    with RecheckWriter(out, ds, run_id="second", batch_rows=8) as writer:
        assert writer.done == {0, 1}
        recheck(writer, ds, 8, only={2})
        # killed after batch 3's parts were published but before it was marked done, with a
        # flags part this attempt had and the next one will not, and a torn temporary
        ((_, batch3),) = [(i, b) for i, b in ds.batches(8) if i == 3]
        gone3 = [u for u in batch3.column("url").to_pylist() if removed_by_number(u)]
        keep3 = [not removed_by_number(u) for u in batch3.column("url").to_pylist()]
        writer.write_batch(3, batch3, keep3, [removal(u) for u in gone3], [flag(gone3[0])])
    (out / ".done" / "000003.json").unlink()
    (out / "records" / ".part-000004.parquet.tmp").write_bytes(b"torn")

    with RecheckWriter(out, ds, run_id="third", batch_rows=8) as writer:
        assert writer.done == {0, 1, 2}
        assert not (out / "records" / ".part-000004.parquet.tmp").exists()
        gone = recheck(writer, ds, 8)  # 3 again under the same names, then 4
        writer.close({})

    kept = [u for u in urls(40) if not removed_by_number(u)]
    got = duckdb.sql(f"SELECT url FROM read_parquet('{out}/records/*.parquet')").fetchall()
    assert sorted(u for (u,) in got) == sorted(kept)  # every kept row once
    assert len(list((out / "records").glob("part-*.parquet"))) == 5
    assert pq.read_table(out / "removals").column("url").to_pylist() == gone
    assert (out / "removed-urls.txt").read_text().splitlines() == gone  # complete, in order
    assert not (out / "flags" / "part-000003.parquet").exists()  # the stale flags part went
    info = json.loads((out / "run.json").read_text())
    assert info["rows"] == {"rows": 40, "kept": len(kept), "removed": len(gone), "flagged": 0}
    assert info["batches"] == {"batch_rows": 8, "done": 5, "written_by_this_run": 2}
    assert info["run_id"] == "third"


def test_a_second_close_keeps_the_earlier_run_json(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path))
    out = tmp_path / "out"
    with RecheckWriter(out, ds, run_id="r1") as writer:
        recheck(writer, ds)
        writer.close({"note": "first"})
    with RecheckWriter(out, ds, run_id="r2") as writer:
        assert writer.done == {0}
        writer.close({"note": "again"})
    info = json.loads((out / "run.json").read_text())
    assert (info["note"], info["previous_runs"][0]["note"]) == ("again", "first")
    assert info["rows"]["rows"] == 30


# -- write failures ------------------------------------------------------------------------


def test_a_write_failure_raises_and_leaves_only_complete_files(tmp_path: Path) -> None:
    ds = open_dataset(parquet_input(tmp_path, 20))
    out = tmp_path / "out"
    batches = list(ds.batches(8))
    writer = RecheckWriter(out, ds, run_id="r1", batch_rows=8)
    writer.write_batch(0, batches[0][1], [True] * 8, [], [])
    os.rename(out / "removals", out / "removals-moved")
    (out / "removals").write_bytes(b"a file where the folder was")
    with pytest.raises(OutputWriteError, match=r"cannot write removals/part-000001.parquet in"):
        writer.write_batch(1, batches[1][1], [True] * 8, [], [])
    with pytest.raises(OutputWriteError):  # the writer stays failed
        writer.write_batch(2, batches[2][1], [True] * 4, [], [])
    (out / "removals").unlink()
    os.rename(out / "removals-moved", out / "removals")
    writer.close({})
    info = json.loads((out / "run.json").read_text())
    assert "cannot write removals/part-000001.parquet" in info["write_error"]
    assert info["fatal"] == info["write_error"]
    assert info["batches"]["done"] == 1
    assert not [p for p in out.rglob("*.tmp")]
    with RecheckWriter(out, ds, run_id="r2", batch_rows=8) as again:  # the rerun resumes
        assert again.done == {0}
