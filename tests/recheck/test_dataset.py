"""Tests for crawler/recheck/dataset.py: opening and streaming a recheck's input."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawler.output import RECORD_SCHEMA, RunWriter, read_records
from crawler.recheck import _parquet_plan
from crawler.recheck.dataset import Dataset, open_dataset
from filters import ConfigError

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def record(i: int, host: str = "a.example", body_size: int = 0) -> dict[str, Any]:
    body = f"<p>page {i}</p>".encode() + b"x" * body_size
    return {
        "url": f"https://{host}/p/{i}",
        "final_url": f"https://{host}/p/{i}",
        "host": host,
        "fetched_at": T0 + timedelta(seconds=i),
        "http_status": 200,
        "content_type": "text/html",
        "body": body,
        "text": f"page {i}",
        "sha256": hashlib.sha256(body).hexdigest(),
        "license": "CC-BY-4.0" if i % 2 else None,
        "license_url": "https://creativecommons.org/licenses/by/4.0/" if i % 2 else None,
        "license_source": "html-rel-license" if i % 2 else None,
        "license_conflict": False,
        "purpose": "train-ai",
        "evidence": "[]",
        "engine_version": "0.1.0",
        "depth": 0,
        "title": None,
    }


def heed_folder(path: Path, n: int, *, part_max_rows: int = 7, crawl_id: str = "c1") -> Path:
    """A real heed crawl output folder with ``n`` records in several parts."""
    with RunWriter(path, crawl_id, row_group_rows=3, part_max_rows=part_max_rows) as writer:
        for i in range(n):
            writer.write_record(record(i))
        writer.close({"purpose": "train-ai", "mode": "permissive"})
    return path


def all_rows(ds: Dataset, rows: int = 8192, start: int = 0) -> list[tuple[int, list[Any]]]:
    return [(i, b.column(ds.url_column).to_pylist()) for i, b in ds.batches(rows, start=start)]


def urls(n: int, host: str = "a.example") -> list[str]:
    return [f"https://{host}/p/{i}" for i in range(n)]


# -- heed output folders -------------------------------------------------------------------


def test_a_heed_folder_is_read_part_by_part_in_heeds_schema(tmp_path: Path) -> None:
    out = heed_folder(tmp_path / "crawl", 30)
    ds = open_dataset(out)
    assert ds.kind == "heed"
    assert ds.num_rows == 30
    assert ds.schema.equals(RECORD_SCHEMA, check_metadata=False)
    assert ds.schema.metadata == RECORD_SCHEMA.metadata
    got = pa.Table.from_batches([b for _, b in ds.batches(8)])
    assert got.equals(read_records(out))  # same rows, same order, every column
    assert [i for i, _ in ds.batches(8)] == [0, 1, 2, 3]


def test_a_heed_folder_ignores_temporaries_and_decisions(tmp_path: Path) -> None:
    out = heed_folder(tmp_path / "crawl", 5)
    (out / "records" / ".part-c1-00009.parquet.tmp").write_bytes(b"torn")
    ds = open_dataset(out)
    assert sum(b.num_rows for _, b in ds.batches()) == 5


def test_a_killed_crawl_without_run_json_is_still_a_heed_folder(tmp_path: Path) -> None:
    out = heed_folder(tmp_path / "crawl", 9)
    (out / "run.json").unlink()
    ds = open_dataset(out)
    assert (ds.kind, ds.num_rows) == ("heed", 9)


def test_an_empty_heed_folder_has_no_batches(tmp_path: Path) -> None:
    out = heed_folder(tmp_path / "crawl", 0)
    ds = open_dataset(out)
    assert (ds.kind, ds.num_rows, list(ds.batches())) == ("heed", 0, [])


def test_a_heed_folder_with_a_foreign_records_schema_is_refused(tmp_path: Path) -> None:
    out = heed_folder(tmp_path / "crawl", 3)
    for p in (out / "records").glob("*.parquet"):
        p.unlink()
    pq.write_table(pa.table({"url": ["https://a/"]}), out / "records" / "part-x-00000.parquet")
    with pytest.raises(ConfigError, match="not in heed's records schema"):
        open_dataset(out)


# -- Parquet -------------------------------------------------------------------------------


def test_one_parquet_file_with_url_and_text(tmp_path: Path) -> None:
    table = pa.table({"url": urls(20), "text": [f"t{i}" for i in range(20)]})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=6)
    ds = open_dataset(tmp_path / "d.parquet")
    assert (ds.kind, ds.num_rows, ds.schema.names) == ("parquet", 20, ["url", "text"])
    batches = list(ds.batches(8))
    assert [(i, b.num_rows) for i, b in batches] == [(0, 8), (1, 8), (2, 4)]
    assert pa.Table.from_batches([b for _, b in batches]).equals(table)


def test_a_folder_of_parquet_is_read_recursively_sorted_skipping_hidden(tmp_path: Path) -> None:
    root = tmp_path / "hf"
    (root / "data").mkdir(parents=True)
    (root / "_temporary").mkdir()
    names = ["train-00001-of-00002.parquet", "train-00000-of-00002.parquet"]
    for n, name in enumerate(names):  # written out of order: read in path order
        pq.write_table(pa.table({"url": urls(5, f"h{1 - n}.example")}), root / "data" / name)
    (root / "data" / ".x.parquet").write_bytes(b"not parquet")  # hidden: never read
    (root / "_temporary" / "y.parquet").write_bytes(b"not parquet")
    (root / "_SUCCESS").write_bytes(b"")
    (root / "README.md").write_text("a dataset card")
    ds = open_dataset(root)
    assert ds.kind == "parquet"
    assert [p.name for p in ds.files] == sorted(names)
    got = [u for _, us in all_rows(ds, 3) for u in us]
    assert got == urls(5, "h0.example") + urls(5, "h1.example")


def test_batches_span_files_and_row_groups_and_start_skips(tmp_path: Path) -> None:
    for n, size in enumerate([7, 1, 13, 0, 4]):
        table = pa.table(
            {"url": urls(size, f"f{n}.example")}, schema=pa.schema([("url", "string")])
        )
        pq.write_table(table, tmp_path / f"{n}.parquet", row_group_size=3)
    ds = open_dataset(tmp_path)
    full = all_rows(ds, 5)
    assert [i for i, _ in full] == list(range(len(full)))
    assert all(len(us) <= 5 for _, us in full)
    assert sum(len(us) for _, us in full) == 25 == ds.num_rows
    for start in range(len(full) + 2):
        assert all_rows(ds, 5, start) == full[start:]
    assert all_rows(ds, 5) == full  # the same on every run


def test_a_batch_is_cut_by_size_as_well_as_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parquet_plan, "BATCH_MAX_BYTES", 64 * 1024)
    body = [os.urandom(16 * 1024) for _ in range(40)]
    pq.write_table(pa.table({"url": urls(40), "body": body}), tmp_path / "b.parquet")
    ds = open_dataset(tmp_path / "b.parquet")
    sizes = [b.num_rows for _, b in ds.batches(1000)]
    assert sum(sizes) == 40
    assert max(sizes) <= 4  # 4 x 16 KiB = the budget
    assert len(sizes) >= 10


def test_memory_stays_bounded_by_the_batch_not_the_file(tmp_path: Path) -> None:
    """48 MiB of bodies in row groups of 6 MiB, batches of 2 MiB: Arrow's peak allocation
    (in a fresh process, so nothing else counts) stays well below the file."""
    mib = 1024 * 1024
    table = pa.table({"url": urls(48), "body": [os.urandom(mib) for _ in range(48)]})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=6, compression="none")
    code = textwrap.dedent(
        f"""
        import pyarrow as pa
        from crawler.recheck import _parquet_plan
        from crawler.recheck.dataset import open_dataset
        _parquet_plan.BATCH_MAX_BYTES = 2 * {mib}
        ds = open_dataset({str(tmp_path / "big.parquet")!r})
        sizes = [b.num_rows for _, b in ds.batches(1000)]
        print(sum(sizes), max(sizes), pa.default_memory_pool().max_memory())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    rows, largest, peak = map(int, done.stdout.split())
    assert rows == 48
    assert largest <= 2
    assert peak < 24 * mib  # reading a row group whole, or the file, costs 48-60 MiB


def test_parquet_files_with_other_schemas_are_refused_naming_the_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"url": ["https://a/"], "text": ["x"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"url": ["https://a/"], "text": [1]}), tmp_path / "b.parquet")
    with pytest.raises(ConfigError, match=r"b\.parquet has another schema.*'text' is int64"):
        open_dataset(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"PAR1 garbage", b'{"url": 1}\n'],
    ids=["empty", "garbage", "json"],
)
def test_a_corrupt_parquet_file_is_refused_naming_it(tmp_path: Path, content: bytes) -> None:
    pq.write_table(pa.table({"url": ["https://a/"]}), tmp_path / "good.parquet")
    (tmp_path / "zbad.parquet").write_bytes(content)
    with pytest.raises(ConfigError, match=r"zbad\.parquet: not a readable Parquet file"):
        open_dataset(tmp_path)


def test_a_truncated_parquet_file_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"url": urls(1000)}), tmp_path / "t.parquet")
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match=r"t\.parquet"):
        open_dataset(tmp_path / "t.parquet")


def test_damaged_data_pages_are_a_config_error_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["abc" * 1000] * 50, "url": urls(50)}), path)
    data = bytearray(path.read_bytes())
    for i in range(100, 2000):  # inside the first column chunk's data, footer intact
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    ds = open_dataset(path)
    with pytest.raises(ConfigError, match=r"d\.parquet: cannot read row group 0"):
        list(ds.batches())


def test_a_missing_url_column_lists_the_columns(tmp_path: Path) -> None:
    pq.write_table(pa.table({"link": ["https://a/"], "text": ["x"]}), tmp_path / "d.parquet")
    with pytest.raises(ConfigError, match=r"no URL column 'url'.*columns there are: link, text"):
        open_dataset(tmp_path / "d.parquet")
    ds = open_dataset(tmp_path / "d.parquet", url_column="link")
    assert all_rows(ds) == [(0, ["https://a/"])]


def test_a_url_column_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"url": [1, 2]}), tmp_path / "d.parquet")
    with pytest.raises(ConfigError, match="'url' is int64, not a string type"):
        open_dataset(tmp_path / "d.parquet")


def test_large_string_and_dictionary_url_columns_are_accepted(tmp_path: Path) -> None:
    pq.write_table(pa.table({"url": pa.array(urls(3), pa.large_string())}), tmp_path / "l.parquet")
    assert all_rows(open_dataset(tmp_path / "l.parquet")) == [(0, urls(3))]
    dictionary = pa.array(urls(3)).dictionary_encode()
    pq.write_table(pa.table({"url": dictionary}), tmp_path / "d.parquet")
    assert all_rows(open_dataset(tmp_path / "d.parquet")) == [(0, urls(3))]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "not a dataset"),
        (lambda p: (p / "x.csv").write_text("url\n") and p / "x.csv", "not a dataset heed reads"),
    ],
    ids=["missing", "empty-folder", "csv"],
)
def test_what_is_not_a_dataset_is_refused(tmp_path: Path, make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_dataset(make(tmp_path))
    assert all(not p.name.startswith(".heed") for p in tmp_path.iterdir())  # nothing written


def test_the_fingerprint_changes_when_the_input_does(tmp_path: Path) -> None:
    pq.write_table(pa.table({"url": urls(3)}), tmp_path / "d.parquet")
    before = open_dataset(tmp_path).fingerprint
    assert open_dataset(tmp_path).fingerprint == before
    pq.write_table(pa.table({"url": urls(4)}), tmp_path / "d.parquet")
    assert open_dataset(tmp_path).fingerprint != before


# -- JSON Lines ----------------------------------------------------------------------------

JUNK = (
    b'{"url": "https://a.example/1", "text": "h\\u00e9llo"}\n'
    b"\n"
    b"   \n"
    b"not json at all\n"
    b'["https://a.example/list"]\n'
    b'{"text": "no url"}\n'
    b'{"url": 42}\n'
    b'{"url": "\\ud800"}\n'
    b'{"url":"https://a.example/2" , "x": {"url": "nested"}}\r\n'
    b'{"url": "https://a.example/3"}'  # no final newline
)


def test_jsonl_rows_keep_the_original_line_and_number(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_bytes(JUNK)
    ds = open_dataset(tmp_path / "d.jsonl")
    assert (ds.kind, ds.num_rows) == ("jsonl", None)
    assert ds.schema.names == ["url", "__line__", "__line_no__"]
    rows = [r for _, b in ds.batches(3) for r in b.to_pylist()]
    assert [(r["url"], r["__line_no__"]) for r in rows] == [
        ("https://a.example/1", 1),
        ("", 4),
        ("", 5),
        ("", 6),
        ("", 7),
        ("", 8),
        ("https://a.example/2", 9),
        ("https://a.example/3", 10),
    ]
    lines = JUNK.split(b"\n")
    assert [r["__line__"] for r in rows] == [lines[r["__line_no__"] - 1] for r in rows]
    assert rows[6]["__line__"].endswith(b"\r")  # byte-exact: the CR stays


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".ndjson", ".json"])
def test_jsonl_variants(tmp_path: Path, suffix: str) -> None:
    data = b"".join(json.dumps({"url": u}).encode() + b"\n" for u in urls(10))
    path = tmp_path / f"d{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    ds = open_dataset(path)
    assert [(i, len(us)) for i, us in all_rows(ds, 4)] == [(0, 4), (1, 4), (2, 2)]
    assert [u for _, us in all_rows(ds, 4, start=1) for u in us] == urls(10)[4:]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"url,text\nhttps://a/,x\n", "line 1 is not valid JSON"),
        (b'[\n  {"url": "https://a/"}\n]\n', "line 1 is not valid JSON"),
        (b'[{"url": "https://a/"}]\n', "line 1 is a JSON list"),
        (b"\n\n\x89PNG\r\n\x1a\n", "line 3 is not valid JSON"),
        (b'{"link": "https://a/"}\n{"href": 1}\n', "no URL column 'url'.*: href, link"),
        (b'{"url": {"href": "https://a/"}}\n', "'url' is not a string"),
    ],
    ids=["csv", "json-array", "one-line-array", "binary", "no-url-column", "url-not-string"],
)
def test_a_file_that_is_not_json_lines_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "d.jsonl").write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        open_dataset(tmp_path / "d.jsonl")


def test_a_gz_that_is_not_gzip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl.gz").write_bytes(b'{"url": "https://a/"}\n')
    with pytest.raises(ConfigError, match=r"d\.jsonl\.gz: cannot read it"):
        open_dataset(tmp_path / "d.jsonl.gz")


def test_a_truncated_gz_fails_while_reading_with_a_config_error(tmp_path: Path) -> None:
    data = b"".join(json.dumps({"url": u, "pad": "x" * 100}).encode() + b"\n" for u in urls(2000))
    packed = gzip.compress(data)
    (tmp_path / "d.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    ds = open_dataset(tmp_path / "d.jsonl.gz")
    with pytest.raises(ConfigError, match="cannot read it"):
        list(ds.batches(100))


def test_jsonl_is_streamed_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as handle:
        for i in range(20_000):
            handle.write(json.dumps({"url": f"https://a/{i}", "text": "y" * 1000}).encode() + b"\n")
    ds = open_dataset(path)
    tracemalloc.start()
    try:
        rows = sum(b.num_rows for _, b in ds.batches(500))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 20_000
    assert path.stat().st_size > 20_000_000
    assert peak < 5_000_000


def test_the_url_column_name_is_not_a_reserved_one(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_bytes(b'{"__line__": "https://a/"}\n')
    with pytest.raises(ConfigError, match="reserved"):
        open_dataset(tmp_path / "d.jsonl", url_column="__line__")
