"""RegistryStore.candidates: a batch answers each URL exactly as a lookup of that URL alone,
and as a scan of every entry would, whatever the batch size, duplicates or chunking."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from datetime import timedelta

import pytest

from crawler.registry import store as store_module
from filters.model import Purpose
from filters.registry import Entry, SubjectKind, evaluate, lookup_keys

from .conftest import NOW, entry

_HOSTS = [
    "example.com",
    "a.example.com",
    "b.a.example.com",
    "example.org",
    "co.uk",
    "x.co.uk",
    "localhost",
    "127.0.0.1",
    "10.0.0.1",
    "0.0.1",
    "5.1.2.3.4",
    "::1",
    "2001:db8::1",
    "xn--bcher-kva.example",
    "under_score.example",
    "x-y.example",
]
_PATHS = ["/", "/a", "/a/", "/a/b", "/a/b?x=1", "/docs/", "/%7Ea/"]


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _entries(rng: random.Random, n: int) -> list[Entry]:
    out = []
    for i in range(n):
        host = rng.choice(_HOSTS)
        kind = rng.choice(["domain", "domain", "prefix", "url"])
        scheme = rng.choice(["http", "https"])
        subject = host if kind == "domain" else f"{scheme}://{_netloc(host)}{rng.choice(_PATHS)}"
        expiry = rng.choice([None, None, -1, 1])
        out.append(
            entry(
                kind,
                subject,
                rng.choice(["opt-out", "opt-in"]),
                purposes=rng.sample([p.value for p in Purpose], rng.randint(1, 3)),
                expires_at=None if expiry is None else NOW + timedelta(days=expiry),
                id=f"e{i:04d}",
            )
        )
    return out


def _urls(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        host = rng.choice([*_HOSTS, "example.net", "bücher.example", "Example.COM"])
        sub = rng.choice(["", "", "www.", "x.y."]) if ":" not in host else ""
        scheme = rng.choice(["http", "https", "HTTP"])
        port = rng.choice(["", "", ":80", ":443", ":8080"])
        out.append(f"{scheme}://{sub}{_netloc(host)}{port}{rng.choice(_PATHS)}")
    out += ["not a url", "ftp://example.com/", "", "https://"]
    out += rng.choices(out, k=n // 4)  # duplicates within the batch
    rng.shuffle(out)
    return out


def _ids(entries: tuple[Entry, ...] | list[Entry]) -> list[str]:
    return sorted(e.id for e in entries)


def _scan(every: list[Entry], url: str) -> list[Entry]:
    """What the index must return for ``url``, found without it: every entry under the URL's
    host, and every domain entry under one of its parent domains."""
    keys = lookup_keys(url)
    return [
        e
        for e in every
        if keys
        and (e.host == keys[0] or (e.host in keys[1:] and e.subject_kind is SubjectKind.DOMAIN))
    ]


@pytest.mark.parametrize("seed", range(4))
def test_batch_equals_single_lookups_and_a_full_scan(store, seed):
    rng = random.Random(seed)
    every = _entries(rng, 150)
    store.add_many(every)
    urls = _urls(rng, 300)
    found = store.candidates(urls)
    assert set(found) == set(urls)
    for url in set(urls):
        alone = store.candidates([url])[url]
        assert found[url] == alone  # same entries, in the same order
        assert _ids(found[url]) == _ids(_scan(every, url))
        for purpose in Purpose:
            for now in (NOW - timedelta(days=2), NOW, NOW + timedelta(days=2)):
                # No entry that decides the URL may be missing from its candidates.
                expected = evaluate(every, url, purpose, now)
                got = evaluate(found[url], url, purpose, now)
                assert got[0].verdict == expected[0].verdict
                assert (got[1] is None) == (expected[1] is None)
                if got[1] is not None and expected[1] is not None:
                    assert got[1]._how[3] == expected[1]._how[3]  # equally specific winners


@pytest.mark.parametrize("chunk", [1, 2, 7])
def test_small_chunks_give_the_same_answer(store, monkeypatch, chunk):
    rng = random.Random(chunk)
    store.add_many(_entries(rng, 80))
    urls = _urls(rng, 120)
    whole = store.candidates(urls)
    monkeypatch.setattr(store_module, "_CHUNK", chunk)
    assert store.candidates(urls) == whole


def test_more_keys_than_one_statement_may_bind(store):
    # Over 3 × _CHUNK distinct keys in one batch: several statements, each under SQLite's limit.
    chunk = store_module._CHUNK
    assert chunk <= min(store._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 999)
    n = 3 * chunk + 17
    store.add_many(
        [entry("domain", f"h{i}.example", id=f"d{i}") for i in range(0, n, 3)]
        + [entry("url", f"https://h{i}.example/p", id=f"u{i}") for i in range(1, n, 3)]
    )
    urls = [f"https://www.h{i}.example/p" for i in range(n)]
    urls += [f"https://h{i}.example/p" for i in range(n)]
    found = store.candidates(urls)
    for i in range(n):
        sub, own = found[f"https://www.h{i}.example/p"], found[f"https://h{i}.example/p"]
        assert _ids(sub) == ([f"d{i}"] if i % 3 == 0 else [])  # a url entry names one host
        expected = {0: [f"d{i}"], 1: [f"u{i}"], 2: []}[i % 3]
        assert _ids(own) == expected


def test_duplicate_urls_and_shared_keys(store):
    store.add_many(
        [
            entry("domain", "example.com", id="dom"),
            entry("prefix", "https://a.example.com/x/", id="pre"),
        ]
    )
    urls = ["https://a.example.com/x/1", "https://A.example.com/x/1", "https://a.example.com/x/1"]
    found = store.candidates(urls)
    assert list(found) == urls[:2]
    assert _ids(found[urls[0]]) == _ids(found[urls[1]]) == ["dom", "pre"]


def test_ip_hosts_have_no_parent_domains(store):
    store.add_many(
        [
            entry("domain", "127.0.0.1", id="ip"),
            entry("domain", "0.0.1", id="name"),  # a valid (odd) host name, not a parent
            entry("domain", "::1", id="v6"),
        ]
    )
    found = store.candidates(["http://127.0.0.1:8080/x", "http://[::1]/", "http://9.0.0.1/"])
    assert _ids(found["http://127.0.0.1:8080/x"]) == ["ip"]
    assert _ids(found["http://[::1]/"]) == ["v6"]
    assert found["http://9.0.0.1/"] == ()
    assert _ids(store.candidates(["http://a.0.0.1/"])["http://a.0.0.1/"]) == ["name"]


def test_rows_become_the_entries_written(store):
    original = entry(
        "url",
        "https://example.com/p",
        "opt-in",
        purposes=["search", "ai-input"],
        license="MIT",
        registered_by="someone",
        expires_at=NOW + timedelta(days=3),
        note="a note",
        verified=True,
        id="every-field",
    )
    store.add(original)
    (got,) = store.candidates(["https://example.com/p"])["https://example.com/p"]
    assert got == original
    fields = [f.name for f in dataclasses.fields(Entry)]
    assert [getattr(got, f) for f in fields] == [getattr(original, f) for f in fields]
