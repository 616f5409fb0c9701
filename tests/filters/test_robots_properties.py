"""Hypothesis properties of filters/robots/ (SPEC.md §3.1, RFC 9309)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from protego import Protego

from filters import robots
from filters.model import Verdict
from filters.patterns import url_path
from filters.robots._match import match_path

FAST = settings(max_examples=200, deadline=None)

_PATH_CHARS = "/ab.-_~="
patterns = st.builds(
    lambda body, anchor: "/" + body + ("$" if anchor else ""),
    st.text(_PATH_CHARS + "*", max_size=6),
    st.booleans(),
)
paths = st.builds(lambda body: "/" + body, st.text(_PATH_CHARS, max_size=8))
rules = st.lists(st.tuples(st.booleans(), patterns), min_size=1, max_size=5)
agents = st.sampled_from(["*", "heed", "other", "GPTBot"])
groups = st.lists(st.tuples(st.lists(agents, min_size=1, max_size=2), rules), max_size=4)


def render(file_groups: list[tuple[list[str], list[tuple[bool, str]]]]) -> bytes:
    lines: list[str] = []
    for names, group_rules in file_groups:
        lines += [f"User-agent: {name}" for name in names]
        lines += [f"{'Allow' if allow else 'Disallow'}: {p}" for allow, p in group_rules]
    return "\n".join(lines).encode()


def applicable(file_groups: list[tuple[list[str], list[tuple[bool, str]]]]) -> list[int]:
    own = [i for i, (names, _) in enumerate(file_groups) if "heed" in names]
    return own or [i for i, (names, _) in enumerate(file_groups) if "*" in names]


@FAST
@given(st.binary(max_size=3000))
def test_parse_never_raises_on_bytes(body: bytes) -> None:
    policy = robots.parse(body)
    url = "https://example.com/a/b?c=%41"
    assert robots.evaluate(policy, url, "heed").verdict in (Verdict.NONE, Verdict.DENY)
    robots.evaluate_ai_agents(policy, url, robots.default_ai_agents())
    robots.crawl_delay(policy, "heed")
    robots.extension_rules(policy, "heed", "content-usage")


@FAST
@given(st.text(alphabet=st.sampled_from("Ua:-*/$#\r\n \tDisalowgent%é\x00"), max_size=400))
def test_parse_never_raises_on_robots_like_text(text: str) -> None:
    policy = robots.parse(text.encode("utf-8"), max_bytes=300)
    robots.evaluate(policy, "https://example.com/" + text[:20], "a")


@FAST
@given(groups, patterns, paths)
def test_adding_disallow_never_turns_deny_into_allow(
    file_groups: list[tuple[list[str], list[tuple[bool, str]]]], extra: str, path: str
) -> None:
    url = "https://example.com" + path
    before = robots.evaluate(robots.parse(render(file_groups)), url, "heed").verdict
    targets = applicable(file_groups)
    if targets:
        file_groups[targets[-1]][1].append((False, extra))
    else:
        file_groups.append((["*"], [(False, extra)]))
    after = robots.evaluate(robots.parse(render(file_groups)), url, "heed").verdict
    if before is Verdict.DENY:
        assert after is Verdict.DENY


@FAST
@given(groups, paths)
def test_evaluation_is_deterministic(
    file_groups: list[tuple[list[str], list[tuple[bool, str]]]], path: str
) -> None:
    body, url = render(file_groups), "https://example.com" + path
    first, second = robots.parse(body), robots.parse(body)
    assert robots.evaluate(first, url, "heed") == robots.evaluate(second, url, "heed")
    assert robots.evaluate(first, url, "heed") == robots.evaluate(first, url, "heed")
    tokens = ("GPTBot", "other")
    assert robots.evaluate_ai_agents(first, url, tokens) == robots.evaluate_ai_agents(
        second, url, tokens
    )


@FAST
@given(rules, paths)
def test_matching_agrees_with_protego_on_clean_groups(
    group_rules: list[tuple[bool, str]], path: str
) -> None:
    # protego is the reference matcher; on one clean group (so its grouping differences do
    # not arise) and paths without "$" both read RFC 9309 §2.2.2 the same way.
    body = render([(["*"], group_rules)])
    url = "https://example.com" + path
    expected = Protego.parse(body.decode()).can_fetch(url, "heed")
    assert (robots.evaluate(robots.parse(body), url, "heed").verdict is Verdict.NONE) is expected


@FAST
@given(groups, paths)
def test_ai_agents_equals_evaluate_per_token(
    file_groups: list[tuple[list[str], list[tuple[bool, str]]]], path: str
) -> None:
    policy, url = robots.parse(render(file_groups)), "https://example.com" + path
    tokens = ("heed", "GPTBot", "other", "nobody")
    denied = [t for t in tokens if robots.evaluate(policy, url, t).verdict is Verdict.DENY]
    result = robots.evaluate_ai_agents(policy, url, tokens)
    assert result.detail == (denied[0] if denied else None)
    assert result.verdict is (Verdict.DENY if denied else Verdict.NONE)


@FAST
@given(
    st.sampled_from(["https://example.com", "http://a.b:8080", "", "//host"]),
    st.text(alphabet=st.sampled_from("/a?=&#%20é~*$:;"), max_size=20),
)
def test_match_path_equals_shared_url_path(base: str, rest: str) -> None:
    # The fast path extraction must agree with filters.patterns.url_path, which the other
    # path-matching signals use.
    url = base + "/" + rest
    assert match_path(url) == url_path(url)
    assert match_path(url, True) == url_path(url.lower())
