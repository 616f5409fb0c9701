"""``heed registry`` edges: importing into a database that holds the same ids
(``--on-conflict``), read-only commands on a missing database, an ``--expires`` in the past,
and subjects with dot segments (normalised as looked-up URLs are)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.registry.store import RegistryStore
from filters.model import Purpose
from filters.registry import evaluate, normalize_url

from .test_cli import cli

RECORD = {"subject_kind": "domain", "choice": "opt-out", "purposes": ["train-ai"],
          "registered_by": "ops"}  # fmt: skip


def _records(*subjects: str, **fields: object) -> list[dict[str, object]]:
    return [{**RECORD, "id": f"id-{s}", "subject": s, **fields} for s in subjects]


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _notes(db: Path) -> dict[str, str | None]:
    with RegistryStore(db) as store:
        return {e.id: e.note for e in store.iter_all()}


@pytest.fixture
def exported(tmp_path, db_path) -> Path:
    """A registry with two entries, and its export."""
    source = _write_jsonl(tmp_path / "seed.jsonl", _records("a.example", "b.example", note="v1"))
    assert cli("import", str(source), "--db", str(db_path)).returncode == 0
    dump = tmp_path / "dump.jsonl"
    assert cli("export", str(dump), "--db", str(db_path)).returncode == 0
    return dump


def test_import_of_an_export_into_the_same_database_names_each_line(db_path, exported):
    done = cli("import", str(exported), "--db", str(db_path))
    assert done.returncode == 2
    assert re.search(r"dump\.jsonl:1: id id-a\.example is already in the registry", done.stderr)
    assert re.search(r"dump\.jsonl:2: id id-b\.example is already in the registry", done.stderr)
    assert "nothing imported" in done.stderr
    assert _notes(db_path) == {"id-a.example": "v1", "id-b.example": "v1"}


def test_import_on_conflict_skip_keeps_what_is_there(tmp_path, db_path, exported):
    changed = _records("a.example", "c.example", note="v2")
    path = _write_jsonl(tmp_path / "more.jsonl", changed)
    done = cli("import", str(path), "--on-conflict", "skip", "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert "imported 1 entries (1 skipped" in done.stdout
    assert _notes(db_path) == {"id-a.example": "v1", "id-b.example": "v1", "id-c.example": "v2"}


def test_import_on_conflict_replace_writes_the_new_record(tmp_path, db_path, exported):
    changed = _records("a.example", "c.example", note="v2")
    path = _write_jsonl(tmp_path / "more.jsonl", changed)
    done = cli("import", str(path), "--on-conflict", "replace", "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert "imported 2 entries (1 replaced" in done.stdout
    assert _notes(db_path) == {"id-a.example": "v2", "id-b.example": "v1", "id-c.example": "v2"}


@pytest.mark.parametrize(
    ("mode", "code", "notes"),
    [("fail", 2, {}), ("skip", 0, {"id-a.example": "first"}),
     ("replace", 0, {"id-a.example": "second"})],
)  # fmt: skip
def test_duplicate_ids_within_one_file(tmp_path, db_path, mode, code, notes):
    lines = [*_records("a.example", note="first"), *_records("a.example", note="second")]
    path = _write_jsonl(tmp_path / "twice.jsonl", lines)
    done = cli("import", str(path), "--on-conflict", mode, "--db", str(db_path))
    assert done.returncode == code, done.stderr
    if mode == "fail":
        assert "twice.jsonl:2: id id-a.example is also on line 1" in done.stderr
        assert not db_path.exists() or _notes(db_path) == {}
    else:
        assert _notes(db_path) == notes


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["show", "some-id"],
        ["remove", "some-id"],
        ["export", "-"],
        ["token", "list"],
        ["token", "remove", "ci"],
        ["serve", "--port", "0"],
    ],
)
def test_read_commands_refuse_a_missing_database(tmp_path, args):
    missing = tmp_path / "regsitry.db"  # a typo
    done = cli(*args, "--db", str(missing))
    assert done.returncode == 2
    assert str(missing) in done.stderr and "no registry database" in done.stderr
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_file_from_a_missing_database_writes_no_file(tmp_path):
    out = tmp_path / "dump.jsonl"
    done = cli("export", str(out), "--db", str(tmp_path / "none.db"))
    assert done.returncode == 2 and not out.exists()


def test_init_creates_an_empty_database(tmp_path):
    db = tmp_path / "new.db"
    done = cli("init", "--db", str(db))
    assert done.returncode == 0 and "created" in done.stdout
    listed = cli("list", "--db", str(db))
    assert listed.returncode == 0 and listed.stdout == ""


def test_add_refuses_an_expiry_in_the_past(db_path):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    done = cli("add", "example.com", "--kind", "domain", "--choice", "opt-out",
               "--purpose", "train-ai", "--expires", past, "--db", str(db_path))  # fmt: skip
    assert done.returncode == 2
    assert "in the past" in done.stderr
    assert not db_path.exists()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    done = cli("add", "example.com", "--kind", "domain", "--choice", "opt-out",
               "--purpose", "train-ai", "--expires", future, "--db", str(db_path))  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://example.com/open/../private/", "https://example.com/private/"),
        ("https://example.com/a/./b/", "https://example.com/a/b/"),
        ("https://example.com/a/%2e%2E/b/", "https://example.com/b/"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/../../x", "https://example.com/x"),
    ],
)
def test_prefix_dot_segments_are_resolved(db_path, given, stored):
    done = cli("add", given, "--kind", "prefix", "--choice", "opt-out", "--purpose",
               "train-ai", "--db", str(db_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["subject"] == stored


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/private/page",
        "https://example.com/open/../private/page",
        "https://example.com/open/%2E%2E/private/page",
        "https://example.com/./private/./page",
    ],
)
def test_looked_up_urls_resolve_dot_segments_too(store, url):
    """An opt-out prefix is not escaped by ``..`` in the URL, and an opt-in prefix does not
    grant what ``..`` leads out of."""
    from .conftest import entry

    store.add_many(
        [
            entry("prefix", "https://example.com/private/", "opt-out", id="out"),
            entry("prefix", "https://example.com/open/", "opt-in", id="in"),
        ]
    )
    now = datetime.now(UTC)
    found = store.candidates([url])[url]
    result, winner = evaluate(found, url, Purpose.TRAIN_AI, now)
    assert (result.verdict.value, winner.id if winner else None) == ("deny", "out")
    assert normalize_url(url) == "https://example.com/private/page"
