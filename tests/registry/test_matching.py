"""filters.registry.evaluate and lookup_keys against a plain restatement of SPEC.md §3.6.

``evaluate`` works from values derived once per entry (``Entry._how``) and a per-URL parse
cache; the oracle below recomputes everything from the entry's fields on every call, as the
matching was first written. Both must give the same result and the same winner.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from filters.errors import RegistryValidationError
from filters.model import Purpose, Signal, SignalResult, Verdict
from filters.reasons import ReasonCode
from filters.registry import Choice, Entry, SubjectKind, evaluate, lookup_keys
from filters.registry import _match as registry_match
from filters.registry import _model as registry_model
from filters.registry import _url as registry_url
from filters.registry._model import _sort_key
from filters.registry._url import _is_ip, known_to_parse, parse_for_match, split_url

from .conftest import NOW, entry

_RANK = {SubjectKind.URL: 3, SubjectKind.PREFIX: 2, SubjectKind.DOMAIN: 1}


def _bare(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


def _oracle(entries, url, purpose, now):
    try:
        host, norm = split_url(url)
    except RegistryValidationError:
        return SignalResult(Signal.REGISTRY, Verdict.NONE, raw=url, source="registry"), None
    best, winner = None, None
    for e in entries:
        if purpose not in e.purposes or (e.expires_at is not None and now >= e.expires_at):
            continue
        kind = e.subject_kind
        if kind is SubjectKind.DOMAIN:
            if not (host == e.subject or (host.endswith("." + e.subject) and not _is_ip(host))):
                continue
            rank = (1, e.subject.count(".") + 1)
        elif kind is SubjectKind.URL:
            if _bare(norm) != _bare(e.subject):
                continue
            rank = (3, 0)
        else:
            if not _bare(norm).startswith(_bare(e.subject)):
                continue
            rank = (2, len(_bare(e.subject)))
        key = (*rank, 1 if e.choice is Choice.OPT_OUT else 0)
        if best is None or key > best:
            best, winner = key, e
    if winner is None:
        return SignalResult(Signal.REGISTRY, Verdict.NONE, source="registry"), None
    source = f"registry:{winner.subject_kind.value}"
    if winner.choice is Choice.OPT_OUT:
        return SignalResult(
            Signal.REGISTRY,
            Verdict.DENY,
            (ReasonCode.REGISTRY_OPT_OUT,),
            raw=winner.subject,
            source=source,
            detail=winner.id,
        ), winner
    return SignalResult(
        Signal.REGISTRY, Verdict.GRANT, raw=winner.subject, source=source, detail=winner.id
    ), winner


_HOSTS = [
    "example.com",
    "a.example.com",
    "b.a.example.com",
    "example.org",
    "co.uk",
    "x.co.uk",
    "localhost",
    "127.0.0.1",
    "1.2.3.4",
    "5.1.2.3.4",
    "0.0.1",
    "2.3.4",
    "::1",
    "bücher.example",
]
_PATHS = ["/", "/a", "/a/", "/a/b", "/a/b?x=1", "/b/", "/%7Ea/", "/p"]


def _subject(kind: str, host: str, path: str, scheme: str) -> str:
    if kind == "domain":
        return host
    return f"{scheme}://{f'[{host}]' if ':' in host else host}{path}"


_ENTRIES = st.lists(
    st.builds(
        lambda kind, host, path, scheme, choice, purposes, expiry, i: entry(
            kind,
            _subject(kind, host, path, scheme),
            choice,
            purposes=purposes,
            id=f"e{i}",
            expires_at=None if expiry is None else NOW + timedelta(days=expiry),
        ),
        st.sampled_from(["domain", "prefix", "url"]),
        st.sampled_from(_HOSTS),
        st.sampled_from(_PATHS),
        st.sampled_from(["http", "https"]),
        st.sampled_from(["opt-out", "opt-in"]),
        st.lists(st.sampled_from([p.value for p in Purpose]), min_size=1, max_size=3),
        st.one_of(st.none(), st.integers(-2, 2)),
        st.integers(0, 5),  # few ids: equal entries with equal keys test "first of equals"
    ),
    max_size=8,
)
_URLS = st.one_of(
    st.builds(
        lambda scheme, sub, host, port, path: (
            f"{scheme}://{sub}{f'[{host}]' if ':' in host else host}{port}{path}"
        ),
        st.sampled_from(["http", "https", "HTTPS"]),
        st.sampled_from(["", "www.", "x.y."]),
        st.sampled_from(_HOSTS),
        st.sampled_from(["", ":80", ":443", ":8080"]),
        st.sampled_from([*_PATHS, "/a/b/c", "/A/", "/a/b?x=1#f"]),
    ),
    st.sampled_from(["not a url", "ftp://example.com/", "", "https://", "http://-x.example/"]),
)


def _near(subject: str, change: str) -> str:
    """A URL close to an entry's subject, where matching decisions are made."""
    url = subject if "://" in subject else f"https://{subject}/"
    scheme, rest = url.split("://", 1)
    return {
        "same": url,
        "other-scheme": ("http" if scheme == "https" else "https") + "://" + rest,
        "longer": url + "x/",
        "shorter": url[:-1],
        "subdomain": f"{scheme}://www.{rest}",
        "upper": url.upper(),
    }[change]


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[Entry], str]:
    entries = draw(_ENTRIES)
    if entries and draw(st.booleans()):
        subject = draw(st.sampled_from(entries)).subject
        changes = ["same", "other-scheme", "longer", "shorter", "subdomain", "upper"]
        return entries, _near(subject, draw(st.sampled_from(changes)))
    return entries, draw(_URLS)


@settings(max_examples=500, deadline=None)
@given(_cases(), st.sampled_from(list(Purpose)), st.integers(-3, 3))
def test_evaluate_equals_the_oracle(case, purpose, days):
    entries, url = case
    now = NOW + timedelta(days=days)
    result, winner = evaluate(entries, url, purpose, now)
    expected, expected_winner = _oracle(entries, url, purpose, now)
    assert result == expected
    assert winner is expected_winner


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_every_matching_entry_sits_under_a_lookup_key(case):
    entries, url = case
    # A store returns the entries under these keys (and a parent key only for domains): an
    # entry that matches the URL but sits under no key would be a leak.
    keys = lookup_keys(url)
    for e in entries:
        for purpose in e.purposes:
            if evaluate([e], url, purpose, NOW - timedelta(days=9))[1] is e:
                assert e.host in keys
                assert e.host == keys[0] or e.subject_kind is SubjectKind.DOMAIN


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1, 3), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.integers(1, 3), st.integers(0, 10_000), st.booleans()),
)
def test_sort_key_orders_as_the_tuple(a, b):
    assert (_sort_key(*a) > _sort_key(*b)) == (a > b)
    assert (_sort_key(*a) == _sort_key(*b)) == (a == b)


def test_derived_fields_are_not_part_of_the_value():
    dom = entry("domain", "example.com", id="d")
    assert "_how" not in repr(dom)
    twin = Entry(**{f.name: getattr(dom, f.name) for f in dataclasses.fields(dom) if f.init})
    assert twin == dom and hash(twin) == hash(dom)
    moved = dataclasses.replace(dom, subject_kind=SubjectKind.URL, subject="https://x.org/p")
    assert evaluate([moved], "http://x.org/p", Purpose.TRAIN_AI, NOW)[1] is moved
    assert evaluate([moved], "https://example.com/p", Purpose.TRAIN_AI, NOW)[1] is None


def test_two_entry_answer():
    dom = entry("domain", "example.com", "opt-out", id="dom")
    pre = entry("prefix", "https://www.example.com/a/", "opt-in", id="pre")
    result, winner = evaluate((dom, pre), "http://www.example.com/a/b", Purpose.TRAIN_AI, NOW)
    assert winner is pre and result.verdict is Verdict.GRANT and result.detail == "pre"
    result, winner = evaluate((dom, pre), "https://www.example.com/b", Purpose.TRAIN_AI, NOW)
    assert winner is dom and result.reasons == (ReasonCode.REGISTRY_OPT_OUT,)


def test_a_winners_result_is_made_once():
    dom = entry("domain", "example.com", "opt-out", id="dom")
    first, _ = evaluate([dom], "https://a.example.com/", Purpose.TRAIN_AI, NOW)
    again, _ = evaluate([dom], "http://example.com/x", Purpose.TRAIN_AI, NOW)
    assert again is first
    assert first == _oracle([dom], "https://example.com/", Purpose.TRAIN_AI, NOW)[0]
    flipped = dataclasses.replace(dom, choice=Choice.OPT_IN)  # a new value, its own result
    got, winner = evaluate([flipped], "https://example.com/", Purpose.TRAIN_AI, NOW)
    assert winner is flipped and got.verdict is Verdict.GRANT and not got.reasons
    assert got == _oracle([flipped], "https://example.com/", Purpose.TRAIN_AI, NOW)[0]
    assert evaluate([dom], "https://example.com/", Purpose.TRAIN_AI, NOW)[0] is first


def test_evaluating_never_changes_an_entry():
    # Entries are frozen values: deciding URLs with them must leave every slot as it was.
    entries = [
        entry("domain", "example.com", "opt-out", id="dom"),
        entry("prefix", "https://example.com/a/", "opt-in", id="pre"),
    ]
    slots = [f.name for f in dataclasses.fields(Entry)]
    before = [[getattr(e, name) for name in slots] for e in entries]
    for url in ("https://example.com/a/x", "https://b.example.com/", "https://x.org/"):
        evaluate(entries, url, Purpose.TRAIN_AI, NOW)
    after = [[getattr(e, name) for name in slots] for e in entries]
    assert all(
        a is b
        for old, new in zip(before, after, strict=True)
        for a, b in zip(old, new, strict=True)
    )


@settings(max_examples=300, deadline=None)
@given(st.one_of(_URLS, st.text(max_size=40)), st.booleans())
def test_an_empty_answer_after_a_lookup_or_not(url, looked_up):
    # evaluate answers an empty candidate list from what lookup_keys saw, or from the host
    # alone; it must give what the full parse gives, for URLs that parse and those that don't.
    if looked_up:
        lookup_keys(url)
    if known_to_parse(url):
        assert parse_for_match(url) is not None
    assert evaluate((), url, Purpose.TRAIN_AI, NOW) == _oracle((), url, Purpose.TRAIN_AI, NOW)


def test_no_module_level_state_remembers_lookups():
    # What a lookup saw is not kept outside functools caches of pure functions: looking URLs
    # up changes no module attribute of filters.registry.
    modules = [registry_url, registry_model, registry_match]

    def state():
        return {
            (m.__name__, name): (value, len(value) if isinstance(value, dict | set | list) else -1)
            for m in modules
            for name, value in vars(m).items()
            if not callable(value) and not name.startswith("__")
        }

    before = state()
    for i in range(50):
        url = f"https://h{i}.example.com/p{i}"
        assert lookup_keys(url) == (f"h{i}.example.com", "example.com", "com")
        assert known_to_parse(url)
        evaluate((), url, Purpose.TRAIN_AI, NOW)
        made = entry("domain", f"h{i}.example.com", purposes=["train-ai", "search"][: i % 2 + 1])
        assert evaluate((made,), url, Purpose.TRAIN_AI, NOW)[1] is made
    assert state() == before
    assert lookup_keys("not a url") == () and not known_to_parse("not a url")
