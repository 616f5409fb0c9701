"""The JSON of the registry service's answers (``service.py``), written for speed.

A /v1/lookup answer repeats each entry of a host for every URL of that host; the entries are
serialised once per answer, directly (``entry_json``), and the answer is joined from the
pieces, character for character what ``dumps`` gives for the documented structure
(tests/registry/test_service.py and test_answer.py compare them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _json_str  # what ``dumps`` does to a str

from filters.model import Purpose
from filters.registry import Entry, evaluate

__all__ = ["dumps", "entry_json", "lookup_body"]

#: ``json.dumps(value, separators=(",", ":"))``, without building an encoder on every call.
dumps = json.JSONEncoder(separators=(",", ":")).encode
_PURPOSES_JSON: dict[frozenset[Purpose], str] = {}


def _text(value: object) -> str:
    # What the encoder writes for a value; a str (a StrEnum member too) is escaped directly.
    return _json_str(value) if isinstance(value, str) else dumps(value)


def entry_json(entry: Entry) -> str:
    """``dumps(entry_to_dict(entry))``, character for character, written directly: the
    encoder's set-up per call costs more than the entry itself. Purposes are a frozenset of
    ``Purpose`` members, whose text is their value (their JSON is kept per distinct set)."""
    purposes = _PURPOSES_JSON.get(entry.purposes) if type(entry.purposes) is frozenset else None
    if purposes is None:
        purposes = dumps(sorted(map(str, entry.purposes)))
        if type(entry.purposes) is frozenset and len(_PURPOSES_JSON) < 64:
            _PURPOSES_JSON[entry.purposes] = purposes
    at, expires, verified = entry.registered_at, entry.expires_at, entry.verified
    licence, note = entry.license, entry.note
    return "".join(
        (
            '{"id":',
            _text(entry.id),
            ',"subject_kind":',
            _text(str(entry.subject_kind)),
            ',"subject":',
            _text(entry.subject),
            ',"choice":',
            _text(str(entry.choice)),
            ',"purposes":',
            purposes,
            ',"license":',
            "null" if licence is None else _text(licence),
            ',"registered_by":',
            _text(entry.registered_by),
            ',"registered_at":',
            "null" if at is None else _text(at.isoformat()),
            ',"expires_at":',
            "null" if expires is None else _text(expires.isoformat()),
            ',"note":',
            "null" if note is None else _text(note),
            ',"verified":',
            "true" if verified is True else "false" if verified is False else _text(verified),
            "}",
        )
    )


def lookup_body(
    found: dict[str, tuple[Entry, ...]], urls: list[str], purpose: Purpose | None
) -> bytes:
    """The /v1/lookup answer, byte for byte what ``dumps`` gives for
    ``{"results": [{"url", "entries", ["verdict", "reasons", "entry_id"]}, ...]}``, but with
    each distinct entry serialised once per answer (a host's entries recur for each URL)."""
    encoded: dict[int, str] = {}  # id() of entries kept alive by ``found``
    now = datetime.now(UTC)
    items = []
    for url in urls:
        entries = found[url]
        parts = []
        for entry in entries:
            text = encoded.get(id(entry))
            if text is None:
                text = encoded[id(entry)] = entry_json(entry)
            parts.append(text)
        item = '{"url":' + _json_str(url) + ',"entries":[' + ",".join(parts) + "]"
        if purpose is not None:
            result, winner = evaluate(entries, url, purpose, now)
            reasons = dumps([r.value for r in result.reasons])
            entry_id = dumps(winner.id if winner else None)
            item += f',"verdict":{dumps(result.verdict.value)},"reasons":{reasons}'
            item += f',"entry_id":{entry_id}'
        items.append(item + "}")
    return f'{{"results":[{",".join(items)}]}}'.encode()
