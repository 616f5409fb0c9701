"""Path classes (filters/engine/_pathclass.py): a reused pre-fetch result must equal a full one.

``decide_pre_fetch`` reuses the site documents' results for URLs of the same path class;
``decide_pre_fetch_unclassed`` evaluates everything afresh. On generated sites (robots.txt with
several groups, extension lines and licence links, ai.txt, tdmrep.json, RSL, registry entries)
and generated URLs drawn from a small alphabet, so that many URLs share a class, the two must
give equal decisions, whatever order the URLs come in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from filters import FetchOutcome, Headers, Purpose, aitxt, robots, rsl, tdmrep
from filters.engine import EngineConfig, Evaluator, SiteSignals, decide_pre_fetch_unclassed
from filters.engine._pathclass import MAX_CLASSES, build_site_classes
from filters.registry import make_entry
from filters.registry.answer import NOT_CONFIGURED, Answer, Unavailable

NOW = datetime(2026, 11, 22, tzinfo=UTC)
ORIGIN = "https://example.org"
LICENSE_URL = "https://example.org/license.xml"

# Patterns: mostly verbatim (the classed case), some not (the site then is not classed).
VERBATIM = ["/", "/a", "/a/", "/ab", "/a/b", "/A", "/a*", "/*b", "/a$", "/*.x$", "/a/index.html",
            "/a=b", "*x", "/a/*", "/a-", "/x.html$"]  # fmt: skip
OTHER = ["/a%2F", "/a?b", "/é", "/a%41", "/*?", "/a b", "/a%3Db", "/*%3D", "/a&b"]
#: Each example draws a small pool of patterns that its site and its URLs share, so that many
#: URLs fall into the same classes and neighbouring patterns compete.
pools = st.lists(st.sampled_from(VERBATIM + VERBATIM + OTHER), min_size=1, max_size=6)
agents = st.sampled_from(["*", "heedbot", "GPTBot", "CCBot", "Google-Extended"])
usage = st.sampled_from(["train-ai=n", "train-ai=y", "search=y, train-ai=n", "bogus=?"])
signal = st.sampled_from(["ai-train=no", "ai-train=yes, search=yes", "search=no"])


@st.composite
def robots_files(draw: st.DrawFn, patterns: st.SearchStrategy[str]) -> bytes:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        for agent in draw(st.lists(agents, min_size=1, max_size=2)):
            lines.append(f"User-agent: {agent}")
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(["Allow", "Disallow", "Disallow", "CU", "CS"]))
            pat = draw(patterns)
            scoped = draw(st.sampled_from(["", pat + " "]))
            if kind == "CU":
                lines.append(f"Content-Usage: {scoped}{draw(usage)}")
            elif kind == "CS":
                lines.append(f"Content-Signal: {scoped}{draw(signal)}")
            else:
                lines.append(f"{kind}: {pat}")
        if draw(st.booleans()):
            lines.append(f"Crawl-delay: {draw(st.sampled_from(['1', '90']))}")
    if draw(st.booleans()):
        lines.append(f"License: {LICENSE_URL}")
    return ("\n".join(lines) + "\n").encode()


@st.composite
def tdmrep_files(draw: st.DrawFn, patterns: st.SearchStrategy[str]) -> bytes | None:
    if draw(st.booleans()):
        return None
    rules = [
        {"location": draw(patterns), "tdm-reservation": draw(st.sampled_from([0, 1, 2]))}
        for _ in range(draw(st.integers(0, 4)))
    ]
    return json.dumps(rules).encode()


@st.composite
def rsl_files(draw: st.DrawFn, patterns: st.SearchStrategy[str]) -> bytes:
    contents = []
    for _ in range(draw(st.integers(0, 3))):
        url = draw(st.one_of(patterns, st.sampled_from([f"{ORIGIN}/a/", "http://other.org/"])))
        term = draw(st.sampled_from(["prohibits", "permits"]))
        contents.append(
            f'<content url="{url}"><license><{term} type="usage">ai-train</{term}>'
            f"</license></content>"
        )
    return f'<rsl xmlns="https://rslstandard.org/rsl">{"".join(contents)}</rsl>'.encode()


def _fetch(url: str, body: bytes | None, ctype: str = "text/plain") -> FetchOutcome:
    if body is None:
        return FetchOutcome(url=url, status=404)
    return FetchOutcome(url=url, status=200, headers=Headers({"content-type": ctype}), body=body)


@st.composite
def sites(draw: st.DrawFn, patterns: st.SearchStrategy[str]) -> SiteSignals:
    robots_body = draw(robots_files(patterns))
    ci = draw(st.booleans())
    robots_policy = (
        robots.parse(robots_body, case_insensitive=True)
        if ci
        else robots.policy_from_fetch(_fetch(f"{ORIGIN}/robots.txt", robots_body))
    )
    ai_body = draw(st.one_of(st.none(), robots_files(patterns)))
    return SiteSignals(
        robots=robots_policy,
        aitxt=aitxt.policy_from_fetch(_fetch(f"{ORIGIN}/ai.txt", ai_body)),
        tdmrep=tdmrep.policy_from_fetch(
            _fetch(
                f"{ORIGIN}/.well-known/tdmrep.json",
                draw(tdmrep_files(patterns)),
                "application/json",
            )
        ),
        rsl={LICENSE_URL: rsl.policy_from_fetch(_fetch(LICENSE_URL, draw(rsl_files(patterns))))},
    )


segments = st.sampled_from(["a", "A", "b", "/", "x", ".x", "index.html", "-b", "=b", "_b~", "c",
                            ".html", "?", "%2F", "é", "/robots.txt"])  # fmt: skip
origins = st.sampled_from([ORIGIN, "http://example.org", "https://example.org:8443"])


def _path_like(pattern: str, decode: bool, suffix: str) -> str:
    """A path a pattern matches (or nearly), optionally with protego's decoding of ``%3D``."""
    path = pattern.replace("*", "x").rstrip("$")
    if decode:
        path = path.replace("%3D", "=")
    return (path if path.startswith("/") else "/" + path) + suffix


def urls(patterns: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda o, parts: o + "/" + "".join(parts), origins, st.lists(segments, max_size=5)
        ),
        st.builds(
            lambda o, p, d, s: o + _path_like(p, d, s),
            origins,
            patterns,
            st.booleans(),
            st.sampled_from(["", "c", "/", ".x", "b", "/index.html", "=b", "A"]),
        ),
    )


registry_answers = st.sampled_from(
    [
        Unavailable(),
        NOT_CONFIGURED,
        Answer(()),
        Answer((make_entry("prefix", f"{ORIGIN}/a/", "opt-out", ["train-ai"], registered_by="t"),)),
        Answer(
            (
                make_entry("domain", "example.org", "opt-in", ["train-ai"], registered_by="t"),
                make_entry(
                    "url", "https://example.org/ab", "opt-out", ["train-ai"], registered_by="t"
                ),
            )
        ),
    ]
)
configs = st.sampled_from(
    [
        EngineConfig(purpose=Purpose.TRAIN_AI),
        EngineConfig(purpose=Purpose.SEARCH),
        EngineConfig(purpose=Purpose.AI_INPUT, product_token="GPTBot"),
        EngineConfig(purpose=Purpose.TRAIN_AI, on_signal_error="ignore"),
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.data(), pools, configs, registry_answers)
def test_reused_results_equal_a_full_evaluation(data, pool, cfg, answer) -> None:  # type: ignore[no-untyped-def]
    patterns = st.sampled_from(pool)
    site = data.draw(sites(patterns), label="site")
    url_list = data.draw(st.lists(urls(patterns), min_size=1, max_size=40), label="urls")
    evaluator = Evaluator(cfg)
    for url in url_list + url_list[::-1]:
        got = evaluator.decide_pre_fetch(site, url, answer, now=NOW)
        want = decide_pre_fetch_unclassed(site, url, cfg, answer, now=NOW)
        assert got == want, url


def _site(robots_body: bytes) -> SiteSignals:
    return SiteSignals(robots=robots.policy_from_fetch(_fetch(f"{ORIGIN}/robots.txt", robots_body)))


def test_neighbouring_prefixes_are_different_classes() -> None:
    # "/ab" and "/a/" differ by their last character only; so do "/a" and "/a$".
    cfg = EngineConfig(purpose=Purpose.TRAIN_AI)
    body = b"User-agent: *\nDisallow: /a/\nAllow: /ab\nDisallow: /a$\nDisallow: /b\nAllow: /\n"
    site = _site(body)
    paths = ["/ab", "/a/x", "/abc", "/a/", "/a", "/ax", "/b", "/c", "/a/b"]
    for order in (paths, paths[::-1]):
        evaluator = Evaluator(cfg)
        got = {p: evaluator.decide_pre_fetch(site, ORIGIN + p).allowed for p in order}
        assert got == {p: decide_pre_fetch_unclassed(site, ORIGIN + p, cfg).allowed for p in paths}
        assert got == {"/ab": True, "/a/x": False, "/abc": True, "/a/": False, "/a": False,
                       "/ax": True, "/b": False, "/c": True, "/a/b": False}  # fmt: skip


def test_urls_matching_the_same_patterns_share_a_class() -> None:
    site = _site(b"User-agent: *\nDisallow: /private/\nDisallow: /*.bak$\n")
    cfg = EngineConfig(purpose=Purpose.TRAIN_AI)
    evaluator = Evaluator(cfg)
    classes = evaluator.site_classes(site)
    assert classes is not None
    assert classes.key(f"{ORIGIN}/a1") == classes.key(f"{ORIGIN}/b/c2")
    assert classes.key(f"{ORIGIN}/private/1") == classes.key(f"{ORIGIN}/private/x/y")
    assert classes.key(f"{ORIGIN}/private/1") != classes.key(f"{ORIGIN}/a1")
    assert classes.key(f"{ORIGIN}/x.bak") != classes.key(f"{ORIGIN}/x.bak2")
    assert classes.key("http://example.org/a1") != classes.key(f"{ORIGIN}/a1")
    first = evaluator.decide_pre_fetch(site, f"{ORIGIN}/private/1")
    second = evaluator.decide_pre_fetch(site, f"{ORIGIN}/private/2")
    assert not first.allowed and second == first


def test_urls_that_are_not_simple_are_evaluated_in_full() -> None:
    classes = build_site_classes(_site(b"User-agent: *\nDisallow: /a\n").robots, None, None, ())
    assert classes is not None
    odd = ("/a?b", "/a%2Fb", "/é", "//a", "/a#f", "/robots.txt", "/ROBOTS.TXT", "")
    for url in [*(ORIGIN + p for p in odd), "ftp://example.org/a", "https://user@example.org/a"]:
        assert classes.key(url) is None, url


def test_a_site_with_escapes_or_spaces_in_its_patterns_is_not_classed() -> None:
    for line in (b"Disallow: /a%3Db", b"Disallow: /a%2F", b"Allow: /\xc3\xa9", b"Disallow: /a b"):
        site = _site(b"User-agent: *\n" + line + b"\n")
        assert build_site_classes(site.robots, None, None, ()) is None, line
        url = f"{ORIGIN}/a=b"
        cfg = EngineConfig(purpose=Purpose.TRAIN_AI)
        got = Evaluator(cfg).decide_pre_fetch(site, url)
        assert got == decide_pre_fetch_unclassed(site, url, cfg)


def test_the_class_memo_is_bounded() -> None:
    site = _site(b"User-agent: *\nDisallow: /*x$\n")
    cfg = EngineConfig(purpose=Purpose.SEARCH)
    classes = Evaluator(cfg).site_classes(site)
    assert classes is not None
    for i in range(MAX_CLASSES + 10):
        classes.remember((i,), object())
    assert 0 < len(classes.memo) <= MAX_CLASSES
