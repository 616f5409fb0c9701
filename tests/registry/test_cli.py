"""``python -m crawler.registry.cli``: validation errors write nothing, import/export round
trips in JSON lines and CSV, tokens, and ``serve`` answering on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crawler.registry.cli import main
from crawler.registry.store import RegistryStore

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.registry.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def count(db: Path) -> int:
    with RegistryStore(db) as store:
        return store.count()


def test_add_show_list_remove(db_path):
    added = cli("add", "Example.COM", "--kind", "domain", "--choice", "opt-out",
                "--purpose", "train-ai,search", "--license", "cc-by-4.0", "--by", "ops",
                "--db", str(db_path))  # fmt: skip
    assert added.returncode == 0, added.stderr
    record = json.loads(added.stdout)
    assert (record["subject"], record["license"], record["purposes"]) == (
        "example.com",
        "CC-BY-4.0",
        ["search", "train-ai"],
    )
    shown = cli("show", record["id"], "--db", str(db_path))
    assert json.loads(shown.stdout)["id"] == record["id"]
    listed = cli("list", "--db", str(db_path))
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [record["id"]]
    assert cli("remove", record["id"], "--db", str(db_path)).returncode == 0
    assert cli("remove", record["id"], "--db", str(db_path)).returncode == 1
    assert cli("show", record["id"], "--db", str(db_path)).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://", "--kind", "url", "--purpose", "train-ai"], "bad URL"),
        (["example.com", "--kind", "domain", "--purpose", "trainai"], "unknown purpose"),
        (["example.com", "--kind", "domain", "--purpose", "search", "--license", "CC-BY-5"],
         "bad licence"),
    ],
)  # fmt: skip
def test_add_validation_errors_write_nothing(db_path, args, message):
    done = main(["add", *args, "--choice", "opt-out", "--db", str(db_path)])
    assert done == 2
    assert count(db_path) == 0


def test_add_validation_error_message(db_path):
    done = cli("add", "https://", "--kind", "url", "--choice", "opt-out", "--purpose",
               "train-ai", "--db", str(db_path))  # fmt: skip
    assert done.returncode == 2
    assert "bad URL" in done.stderr and "nothing written" in done.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_round_trip(tmp_path, db_path, fmt):
    for subject, kind in (("example.com", "domain"), ("https://example.org/a/", "prefix")):
        args = [subject, "--kind", kind, "--choice", "opt-in", "--purpose", "train-ai",
                "--note", 'comma, "quote"', "--expires", "2030-01-01T00:00:00Z"]  # fmt: skip
        assert main(["add", *args, "--db", str(db_path)]) == 0
    out = tmp_path / f"dump.{fmt}"
    assert main(["export", str(out), "--db", str(db_path)]) == 0
    other = tmp_path / "other.db"
    assert main(["import", str(out), "--db", str(other)]) == 0
    with RegistryStore(db_path) as a, RegistryStore(other) as b:
        assert list(a.iter_all()) == list(b.iter_all())
        assert len(list(b.iter_all())) == 2


def test_import_is_all_or_nothing_with_line_numbers(tmp_path, db_path):
    good = {"subject_kind": "domain", "subject": "a.example", "choice": "opt-out",
            "purposes": ["train-ai"], "registered_by": "t"}  # fmt: skip
    lines = [
        json.dumps(good),
        json.dumps({**good, "subject": "b.example", "purposes": ["bogus"]}),
        "{broken",
        json.dumps({**good, "subject": "c.example", "license": "nope-1"}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = cli("import", str(path), "--db", str(db_path))
    assert done.returncode == 2
    assert re.search(r"in\.jsonl:2: unknown purpose", done.stderr)
    assert re.search(r"in\.jsonl:3: not JSON", done.stderr)
    assert re.search(r"in\.jsonl:4: bad licence", done.stderr)
    assert "nothing imported" in done.stderr
    assert count(db_path) == 0


def test_import_duplicate_id_against_store_writes_nothing(tmp_path, db_path):
    rec = {"id": "x1", "subject_kind": "domain", "subject": "a.example", "choice": "opt-out",
           "purposes": "train-ai", "registered_by": "t"}  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    assert main(["import", str(path), "--db", str(db_path)]) == 0
    path.write_text(json.dumps({**rec, "id": "x2"}) + "\n" + json.dumps(rec) + "\n")
    assert main(["import", str(path), "--db", str(db_path)]) == 2
    assert count(db_path) == 1


def test_serve_and_token(db_path):
    token = cli("token", "add", "ci", "--db", str(db_path))
    assert token.returncode == 0 and token.stdout.startswith("heed_")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.registry.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        body = {"subject_kind": "domain", "subject": "example.com", "choice": "opt-out",
                "purposes": ["train-ai"]}  # fmt: skip
        auth = {"Authorization": f"Bearer {token.stdout.strip()}"}
        for _ in range(50):
            try:
                created = httpx.post(url + "/v1/entries", json=body, headers=auth)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert created.status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert count(db_path) == 1
