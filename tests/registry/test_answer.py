"""crawler.registry._answer: entries and lookup answers written directly are exactly the
compact JSON of ``entry_to_dict`` and of the documented answer structure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.registry._answer import dumps, entry_json, lookup_body
from filters.model import Purpose
from filters.registry import Choice, Entry, SubjectKind, entry_to_dict, evaluate

from .conftest import NOW, entry

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=5))])
)


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        Entry,
        id=_TEXT,
        subject_kind=st.sampled_from(list(SubjectKind)),
        subject=_TEXT,
        choice=st.sampled_from(list(Choice)),
        purposes=st.frozensets(st.sampled_from(list(Purpose)), min_size=1),
        license=st.one_of(st.none(), _TEXT),
        registered_by=_TEXT,
        registered_at=_TIMES,
        expires_at=st.one_of(st.none(), _TIMES),
        note=st.one_of(st.none(), _TEXT),
        verified=st.booleans(),
    )
)
def test_entry_json_is_the_compact_json_of_the_dict(e):
    assert entry_json(e) == compact(entry_to_dict(e)) == dumps(entry_to_dict(e))


def test_entry_json_of_validated_entries():
    for e in [
        entry("domain", "example.com", note='quote " backslash \\ é \u2028 \x00'),
        entry("prefix", "https://a.example.com/x/", "opt-in", license="CC-BY-4.0"),
        entry("url", "https://b.example.com/p?q=1", purposes=["train-ai", "search", "ai-input"]),
        entry("domain", "x.org", expires_at=NOW + timedelta(days=1), verified=True),
    ]:
        assert entry_json(e) == compact(entry_to_dict(e))


def test_lookup_body_is_the_compact_json_of_the_structure():
    dom = entry("domain", "example.com", "opt-out", id="dom", note="é")
    pre = entry("prefix", "https://a.example.com/x/", "opt-in", id="pre")
    found = {
        "https://a.example.com/x/1": (pre, dom),
        "https://b.example.com/": (dom,),
        "https://example.org/": (),
        "::nonsense::": (),
    }
    urls = list(found)
    for purpose in (None, Purpose.TRAIN_AI):
        results = []
        for url in urls:
            item: dict[str, object] = {
                "url": url,
                "entries": [entry_to_dict(e) for e in found[url]],
            }
            if purpose is not None:
                result, winner = evaluate(found[url], url, purpose, datetime.now(UTC))
                item |= {
                    "verdict": result.verdict.value,
                    "reasons": [r.value for r in result.reasons],
                    "entry_id": winner.id if winner else None,
                }
            results.append(item)
        expected = compact({"results": results}).encode()
        assert lookup_body(found, urls, purpose) == expected
