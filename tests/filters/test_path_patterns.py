"""Each site-document policy's ``path_patterns()``: the interface the path classes use.

The property test in test_pathclass.py checks that classes built from these patterns give the
results of a full evaluation; these tests pin what each policy hands over, so that a change in
one signal's matching shows up here and not as a silently wrong class.
"""

from __future__ import annotations

import json

from filters import FetchOutcome, Headers, aitxt, robots, rsl, tdmrep
from filters.engine._pathclass import build_site_classes
from filters.model import DocState
from filters.patterns import NO_PATTERNS, PathPatterns

ORIGIN = "https://example.org"


def _texts(found: PathPatterns | None) -> tuple[list[str], list[str]]:
    assert found is not None
    return [p.text for p in found.exact], [p.text for p in found.lower]


def _robots(body: bytes) -> robots.RobotsPolicy:
    outcome = FetchOutcome(url=f"{ORIGIN}/robots.txt", status=200, body=body)
    return robots.policy_from_fetch(outcome)


def test_robots_gives_its_rules_and_extension_paths() -> None:
    policy = _robots(
        b"User-agent: *\nDisallow: /private/\nAllow: /private/index.html\n"
        b"Content-Usage: /drafts/ train-ai=n\nContent-Signal: ai-train=no\n"
        b"User-agent: GPTBot\nDisallow: /*.pdf$\n"
    )
    exact, lower = _texts(policy.path_patterns())
    # protego also allows the directory of an Allow: .../index.html line
    assert exact == ["/private/", "/private/index.html", "/private/$", "/*.pdf$", "/drafts/", "/"]
    assert lower == []


def test_case_insensitive_robots_rules_are_matched_lower_cased() -> None:
    policy = robots.parse(
        b"User-agent: *\nDisallow: /Private/\nContent-Usage: /A/ train-ai=n\n",
        case_insensitive=True,
    )
    exact, lower = _texts(policy.path_patterns())
    assert lower == ["/private/"]
    assert exact == ["/A/"]  # extension lines keep their case: aipref matches them as written


def test_robots_rules_protego_may_read_otherwise_give_no_patterns() -> None:
    for line in (b"Disallow: /a%3Db", b"Allow: /\xc3\xa9", b"Disallow: /a b"):
        assert _robots(b"User-agent: *\n" + line + b"\n").path_patterns() is None, line
    # an extension line is matched by heed alone: its escapes do not matter
    assert _robots(b"User-agent: *\nContent-Usage: /a%3D train-ai=n\n").path_patterns()


def test_documents_without_rules_give_no_patterns() -> None:
    absent = robots.policy_from_fetch(FetchOutcome(url=f"{ORIGIN}/robots.txt", status=404))
    unreachable = robots.policy_from_fetch(FetchOutcome(url=f"{ORIGIN}/robots.txt", status=503))
    assert absent.path_patterns() == NO_PATTERNS
    assert unreachable.path_patterns() == NO_PATTERNS
    ai = aitxt.policy_from_fetch(FetchOutcome(url=f"{ORIGIN}/ai.txt", status=500))
    assert ai.state is DocState.UNREACHABLE and ai.path_patterns() == NO_PATTERNS
    tdm = tdmrep.parse(b"not json")
    assert tdm.state is DocState.INVALID and tdm.path_patterns() == NO_PATTERNS
    assert rsl.parse(b"<html></html>", content_type="text/html").path_patterns() == NO_PATTERNS


def test_aitxt_gives_lower_cased_rules_only() -> None:
    policy = aitxt.parse(b"User-agent: *\nDisallow: /Train/\nContent-Usage: /x/ train-ai=n\n")
    assert _texts(policy.path_patterns()) == ([], ["/train/"])
    assert aitxt.parse(b"User-agent: *\nDisallow: /a%2Fb\n").path_patterns() is None


def test_tdmrep_and_rsl_give_their_locations() -> None:
    body = json.dumps([{"location": "/a/*", "tdm-reservation": 1}, {"location": "/b$"}])
    tdm = tdmrep.parse(body.encode(), content_type="application/json")
    assert _texts(tdm.path_patterns()) == (["/a/*", "/b$"], [])
    doc = rsl.parse(
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/archive/*"><license/></content>'
        b'<content url="https://other.org/x/"><license/></content></rsl>'
    )
    assert _texts(doc.path_patterns()) == (["/archive/*", "/x/"], [])


def test_site_classes_are_built_from_the_policies_patterns() -> None:
    policy = _robots(b"User-agent: *\nDisallow: /private/\n")
    tdm = tdmrep.parse(b'[{"location": "/free/", "tdm-reservation": 0}]')
    ai = aitxt.policy_from_fetch(
        FetchOutcome(
            url=f"{ORIGIN}/ai.txt",
            status=200,
            headers=Headers({"content-type": "text/plain"}),
            body=b"User-agent: *\nDisallow: /Shout/\n",
        )
    )
    classes = build_site_classes(policy, ai, tdm, ())
    assert classes is not None
    key = classes.key
    assert key(f"{ORIGIN}/a") == key(f"{ORIGIN}/b/c")
    assert key(f"{ORIGIN}/private/a") != key(f"{ORIGIN}/a")
    assert key(f"{ORIGIN}/free/a") != key(f"{ORIGIN}/a")
    assert key(f"{ORIGIN}/SHOUT/a") == key(f"{ORIGIN}/shout/b") != key(f"{ORIGIN}/a")
    assert build_site_classes(_robots(b"User-agent: *\nDisallow: /a%2Fb\n"), ai, tdm, ()) is None
