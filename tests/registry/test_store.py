"""crawler.registry.store against a real SQLite file: schema, atomic writes, indexed lookups,
tokens, and two processes writing at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crawler.registry.store import SCHEMA_VERSION, RegistryStore, hash_token
from filters.errors import RegistryError, RegistryValidationError

from .conftest import entry

ROOT = Path(__file__).resolve().parents[2]


def test_new_file_is_migrated_in_wal_mode(db_path, store):
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plan = raw.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM entries WHERE host IN ('a.example.com', 'example.com')"
    ).fetchall()
    assert any("entries_host" in str(row) for row in plan)  # an index probe, not a scan
    raw.close()


def test_newer_schema_is_refused(db_path):
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(RegistryError, match="newer"):
        RegistryStore(db_path)


def test_candidates_come_from_host_and_parent_domains(store):
    store.add_many(
        [
            entry("domain", "example.com", id="dom"),
            entry("domain", "blog.example.com", id="sub"),
            entry("prefix", "https://blog.example.com/a/", id="pre"),
            entry("url", "https://example.com/p", id="other-host"),
            entry("domain", "example.org", id="unrelated"),
        ]
    )
    found = store.candidates(["https://x.blog.example.com/", "https://blog.example.com/a/b"])
    assert {e.id for e in found["https://x.blog.example.com/"]} == {"dom", "sub"}
    assert {e.id for e in found["https://blog.example.com/a/b"]} == {"dom", "sub", "pre"}
    assert store.candidates(["::not a url::"]) == {"::not a url::": ()}


def test_round_trip_keeps_every_field(store):
    original = entry(
        "prefix", "https://example.com/x/", "opt-in", license="CC0-1.0", note="hi", verified=True
    )
    store.add(original)
    assert store.get(original.id) == original


def test_duplicate_id_writes_nothing(store):
    store.add(entry("domain", "example.com", id="same"))
    with pytest.raises(RegistryValidationError, match="duplicate"):
        store.add_many([entry("domain", "a.org", id="fresh"), entry("domain", "b.org", id="same")])
    assert store.get("fresh") is None
    assert store.count() == 1


def test_list_pages_by_id_and_remove(store):
    store.add_many([entry("domain", f"h{i}.example", id=f"e{i:02d}") for i in range(25)])
    first = store.list(limit=10)
    second = store.list(after=first[-1].id, limit=10)
    assert [e.id for e in first] == [f"e{i:02d}" for i in range(10)]
    assert second[0].id == "e10"
    assert [e.id for e in store.list(host="h3.example")] == ["e03"]
    assert store.remove("e03") is True
    assert store.remove("e03") is False
    assert store.get("e03") is None


def test_tokens_are_stored_hashed(db_path, store):
    token = store.add_token("ops")
    assert store.check_token(token) == "ops"
    assert store.check_token(token + "x") is None
    stored = sqlite3.connect(db_path).execute("SELECT sha256 FROM tokens").fetchone()[0]
    assert stored == hash_token(token) and token not in stored
    with pytest.raises(RegistryValidationError):
        store.add_token("ops")
    assert store.remove_token("ops") and store.check_token(token) is None


WRITER = textwrap.dedent(
    """
    import sys
    from crawler.registry.store import RegistryStore
    from filters.registry import make_entry
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with RegistryStore(path) as store:
        for i in range(n):
            e = make_entry("domain", f"h{i}.{tag}.example", "opt-out", ["train-ai"],
                           registered_by=tag, id=f"{tag}-{i}")
            if i % 2:
                store.add(e)
            else:
                store.add_many([e])
    print("done")
    """
)


def test_two_processes_writing_at_once(db_path):
    n = 300
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), tag, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in ("alpha", "beta")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert out.strip() == b"done"
    with RegistryStore(db_path) as store:
        assert store.count() == 2 * n
        assert store.get("alpha-299") is not None and store.get("beta-0") is not None
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()


def test_reused_entries_follow_changed_rows(store):
    # Entry objects are shared between lookups; a row replaced under the same id must be seen.
    store.add(entry("domain", "example.com", "opt-out", id="same"))
    first = store.candidates(["https://example.com/"])["https://example.com/"]
    assert [(e.id, e.choice.value) for e in first] == [("same", "opt-out")]
    assert store.candidates(["https://www.example.com/"])["https://www.example.com/"] == first
    assert store.remove("same")
    store.add(entry("domain", "example.com", "opt-in", id="same", note="changed"))
    again = store.candidates(["https://example.com/"])["https://example.com/"]
    assert [(e.id, e.choice.value, e.note) for e in again] == [("same", "opt-in", "changed")]
    assert store.get("same") == again[0]


def test_candidates_list_own_host_first_then_parent_domains(store):
    store.add_many(
        [
            entry("domain", "example.com", id="parent"),
            entry("prefix", "https://example.com/a/", id="parent-prefix"),
            entry("domain", "a.example.com", id="own"),
            entry("url", "https://a.example.com/x", id="own-url"),
        ]
    )
    found = store.candidates(["https://a.example.com/x"])["https://a.example.com/x"]
    assert [e.id for e in found[:2]] in (["own", "own-url"], ["own-url", "own"])
    assert [e.id for e in found[2:]] == ["parent"]  # a parent's prefix names another host
