"""Output folders written by an earlier heed (records schema version 1, before attribution and
redaction) stay readable: heed's reader upgrades them, heed recheck reads them and writes the
kept rows back in their own schema, and a crawl refuses to resume into them (clearly, exit 2)
rather than mixing two schemas in one folder."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from crawler._output_schema import OPTIONAL_RECORD_COLUMNS, RECORD_SCHEMA, RECORD_SCHEMA_V1
from crawler.output import read_records
from crawler.recheck.dataset import open_dataset

ROOT = Path(__file__).resolve().parents[2]


def _v1_folder(tmp: Path, urls: list[str]) -> Path:
    out = tmp / "old"
    (out / "records").mkdir(parents=True)
    rows = []
    for url in urls:
        body = f"<p>{url}</p>".encode()
        rows.append(
            {
                "url": url, "final_url": url, "host": "127.0.0.1",
                "fetched_at": datetime(2026, 1, 1, tzinfo=UTC), "http_status": 200,
                "content_type": "text/html", "body": body, "text": url,
                "sha256": hashlib.sha256(body).hexdigest(), "license": None,
                "license_url": None, "license_source": None, "license_conflict": False,
                "purpose": "train-ai", "evidence": "{}", "crawl_id": "old",
                "engine_version": "0.1.0",
                "depth": 0, "title": None,
            }
        )  # fmt: skip
    pq.write_table(
        pa.Table.from_pylist(rows, schema=RECORD_SCHEMA_V1),
        out / "records" / "part-old-00001.parquet",
    )
    (out / "run.json").write_text(json.dumps({"crawl_id": "old", "schema_version": "1"}))
    return out


def test_heeds_reader_upgrades_a_version_1_folder(tmp_path: Path) -> None:
    out = _v1_folder(tmp_path, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"])
    table = read_records(out)
    assert table.schema.equals(RECORD_SCHEMA, check_metadata=False)
    row = table.to_pylist()[0]
    assert {k: row[k] for k in OPTIONAL_RECORD_COLUMNS} == dict(OPTIONAL_RECORD_COLUMNS)
    assert row["url"] == "http://127.0.0.1:1/a"


def test_recheck_opens_a_version_1_folder_as_a_heed_dataset_in_its_own_schema(
    tmp_path: Path,
) -> None:
    out = _v1_folder(tmp_path, ["http://127.0.0.1:1/a"])
    dataset = open_dataset(out)
    assert dataset.kind == "heed"
    assert dataset.schema.equals(RECORD_SCHEMA_V1, check_metadata=False)
    (batch,) = [b for _, b in dataset.batches()]
    assert batch.column("url").to_pylist() == ["http://127.0.0.1:1/a"]


def test_a_crawl_does_not_resume_into_a_version_1_folder(tmp_path: Path) -> None:
    out = _v1_folder(tmp_path, ["http://127.0.0.1:1/a"])
    config = tmp_path / "run.toml"
    config.write_text(
        '[identity]\ncontact_url = "http://127.0.0.1/c"\n[network]\nallow_private_networks = true\n'
        f'[crawl]\nseeds = ["http://127.0.0.1:1/"]\nout = "{out}"\n'
    )
    before = sorted(p.name for p in (out / "records").iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "schema version 1" in proc.stderr and "new folder" in proc.stderr
    assert sorted(p.name for p in (out / "records").iterdir()) == before  # nothing touched
