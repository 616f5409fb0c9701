"""robots.txt edge cases where heed read laxer or stricter than Google's matcher (finding 8).

* Whitespace: RFC 9309 knows only SP and HTAB; ``str.strip()`` also removed U+00A0, U+2002 ...
  so ``Allow: /public<NBSP>`` was read as ``Allow: /public`` (a wider Allow).
* Rule length: protego measures ``?`` as ``%3F``, so ``Disallow: /*?*`` outweighed
  ``Allow: /css/``; RFC 9309 and Google compare the rules as written.
* Absolute-URL rules: ``Disallow: http://other-host*`` was read as ``/`` (the whole site).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from filters import aitxt, robots
from filters.model import FetchOutcome, Verdict
from filters.patterns import compile_pattern, url_path
from filters.reasons import ReasonCode

HOST = "www.example.com"
SITE = f"https://{HOST}"
ROBOTS_URL = f"{SITE}/robots.txt"
NBSP = "\u00a0"
EN_SPACE = "\u2002"


def fetched(body: str, url: str = ROBOTS_URL) -> robots.RobotsPolicy:
    return robots.policy_from_fetch(FetchOutcome(url=url, status=200, body=body.encode("utf-8")))


def verdict(policy: robots.RobotsPolicy, path: str, agent: str = "heed") -> Verdict:
    return robots.evaluate(policy, SITE + path, agent).verdict


# --- whitespace: SP and HTAB only -------------------------------------------------------------


@pytest.mark.parametrize("space", [NBSP, EN_SPACE, "\u3000", "\u2009"])
def test_unicode_space_after_allow_value_does_not_widen_it(space: str) -> None:
    # Google reads the value as "/public" + the space (percent-encoded): it allows only paths
    # that contain that character, so /publicity stays disallowed.
    policy = fetched(f"User-agent: *\nDisallow: /\nAllow: /public{space}\n")
    assert verdict(policy, "/publicity") is Verdict.DENY
    assert verdict(policy, "/public/page.html") is Verdict.DENY
    # The character as written is still allowed (Google agrees).
    assert verdict(policy, f"/public{space}x") is Verdict.NONE


def test_unicode_space_before_allow_value_is_no_allow() -> None:
    policy = fetched(f"User-agent: *\nDisallow: /\nAllow:{NBSP}/public\n")
    assert verdict(policy, "/public") is Verdict.DENY
    assert any("allow" in d for d in policy.diagnostics)


def test_unicode_space_in_allow_key_is_not_an_allow() -> None:
    policy = fetched(f"User-agent: *\nDisallow: /\nAllow{NBSP}: /public\n{NBSP}Allow: /pub\n")
    assert verdict(policy, "/public") is Verdict.DENY


def test_allow_without_colon_needs_sp_or_htab_between_words() -> None:
    policy = fetched(f"User-agent: *\nDisallow: /\nAllow{NBSP}/public\n")
    assert verdict(policy, "/public") is Verdict.DENY
    tab = fetched("User-agent: *\nDisallow: /\nAllow\t/public\n")
    assert verdict(tab, "/public") is Verdict.NONE


def test_sp_and_htab_are_still_stripped() -> None:
    policy = fetched("User-agent: *\t \nDisallow: /\n \tAllow :\t /public \t\n")
    assert verdict(policy, "/public/x") is Verdict.NONE
    assert verdict(policy, "/private") is Verdict.DENY


def test_unicode_space_around_disallow_still_excludes() -> None:
    # The fail-closed side: a Disallow keeps its evident meaning as well as its literal one.
    policy = fetched(
        f"User-agent: *\nDisallow: /private{NBSP}\nDisallow:{EN_SPACE}/secret\n"
        f"Disallow{NBSP}: /hidden\n"
    )
    assert verdict(policy, "/private/x") is Verdict.DENY
    assert verdict(policy, f"/private{NBSP}") is Verdict.DENY
    assert verdict(policy, "/secret") is Verdict.DENY
    assert verdict(policy, "/hidden") is Verdict.DENY
    assert verdict(policy, "/open") is Verdict.NONE


def test_aitxt_reads_whitespace_the_same_way() -> None:
    body = f"User-agent: *\nDisallow: /\nAllow: /Public{NBSP}\n".encode()
    policy = aitxt.parse(body)
    assert aitxt.evaluate(policy, f"{SITE}/publicity", "heed").verdict is Verdict.DENY
    assert aitxt.evaluate(policy, f"{SITE}/other", "heed").verdict is Verdict.DENY


# --- rule length as written -------------------------------------------------------------------


def test_query_wildcard_disallow_does_not_outweigh_longer_allow() -> None:
    # "/*?*" is 4 octets as written, "/css/" 5: the Allow wins (RFC 9309, Google).
    policy = fetched("User-agent: *\nDisallow: /*?*\nAllow: /css/\n")
    result = robots.evaluate(policy, f"{SITE}/css/?utm_source=x", "heed")
    assert result.verdict is Verdict.NONE
    assert result.raw == "Allow: /css/"
    assert verdict(policy, "/js/app.js?v=3") is Verdict.DENY
    assert verdict(policy, "/css/site.css") is Verdict.NONE


def test_equal_written_length_allow_wins_over_query_disallow() -> None:
    policy = fetched("User-agent: *\nDisallow: /a?b\nAllow: /a?\n")
    # "/a?b" (4) against "/a?" (3): the Disallow is longer and wins.
    assert verdict(policy, "/a?bc") is Verdict.DENY
    tie = fetched("User-agent: *\nDisallow: /*?\nAllow: /p?\n")
    assert verdict(tie, "/p?q=1") is Verdict.NONE  # equal length: Allow wins
    assert verdict(tie, "/x?q=1") is Verdict.DENY


def test_longer_disallow_still_wins_over_query_allow() -> None:
    policy = fetched("User-agent: *\nAllow: /*?\nDisallow: /search?q=\n")
    result = robots.evaluate(policy, f"{SITE}/search?q=cats", "heed")
    assert result.verdict is Verdict.DENY
    assert result.raw == "Disallow: /search?q="


def test_query_length_fix_for_ai_agents() -> None:
    policy = fetched("User-agent: GPTBot\nDisallow: /*?*\nAllow: /docs/\n")
    agents = robots.default_ai_agents()
    assert robots.evaluate_ai_agents(policy, f"{SITE}/docs/?page=2", agents).verdict is (
        Verdict.NONE
    )
    denied = robots.evaluate_ai_agents(policy, f"{SITE}/blog/?page=2", agents)
    assert denied.verdict is Verdict.DENY and denied.detail == "GPTBot"


#: Rules and paths over characters protego escapes (``?``, ``&``) but RFC 9309 leaves alone.
_QUERY_CHARS = "/ab?=&.-"
_query_patterns = st.builds(
    lambda body, anchor: "/" + body + ("$" if anchor else ""),
    st.text(_QUERY_CHARS + "*", max_size=6),
    st.booleans(),
)
_query_rules = st.lists(st.tuples(st.booleans(), _query_patterns), min_size=1, max_size=5)


def rfc9309_allowed(rules: list[tuple[bool, str]], path: str) -> bool:
    """RFC 9309 §2.2.2 precedence on the rules as written: longest match, Allow wins ties."""
    best: tuple[int, bool] | None = None
    for allow, text in rules:
        pattern = compile_pattern(text)
        if pattern.matches(path) and (best is None or (pattern.length, allow) > best):
            best = (pattern.length, allow)
    return best is None or best[1]


@settings(max_examples=400, deadline=None)
@given(_query_rules, st.text(_QUERY_CHARS, max_size=8))
@example([(False, "/*?*"), (True, "/ab/")], "ab/?a=b")
@example([(True, "/*?"), (False, "/a?b=")], "a?b=a")
def test_query_rules_follow_rfc9309_precedence(rules: list[tuple[bool, str]], rest: str) -> None:
    body = "User-agent: *\n" + "".join(f"{'Allow' if a else 'Disallow'}: {p}\n" for a, p in rules)
    url = f"{SITE}/{rest}"
    got = robots.evaluate(robots.parse(body.encode()), url, "heed").verdict is Verdict.NONE
    assert got is rfc9309_allowed(rules, url_path(url))


# --- absolute-URL rules ---------------------------------------------------------------------


def test_absolute_url_rule_for_another_host_is_ignored() -> None:
    policy = fetched("User-agent: *\nDisallow: http://prod.other-host.com*\nDisallow: /tmp/\n")
    assert verdict(policy, "/") is Verdict.NONE
    assert verdict(policy, "/articles/1") is Verdict.NONE
    assert verdict(policy, "/tmp/x") is Verdict.DENY
    assert any("other-host.com" in d and "ignored" in d for d in policy.diagnostics)


def test_absolute_url_rule_for_the_same_host_uses_its_path() -> None:
    body = (
        "User-agent: *\n"
        "Disallow: https://www.example.com/private/\n"
        "Disallow: HTTP://EXAMPLE.COM/drafts\n"  # the bare domain of www.example.com
        "Disallow: https://www.example.com:8443/search?q=\n"
    )
    policy = fetched(body)
    assert verdict(policy, "/private/a") is Verdict.DENY
    assert verdict(policy, "/drafts/b") is Verdict.DENY
    assert verdict(policy, "/search?q=x") is Verdict.DENY
    assert verdict(policy, "/public") is Verdict.NONE


def test_absolute_url_rule_naming_the_host_alone_disallows_the_site() -> None:
    policy = fetched("User-agent: heed\nDisallow: https://www.example.com\n")
    result = robots.evaluate(policy, f"{SITE}/anything", "heed")
    assert result.verdict is Verdict.DENY
    assert result.reasons == (ReasonCode.ROBOTS_DISALLOW,)


def test_absolute_url_rule_with_a_host_wildcard() -> None:
    matching = fetched("User-agent: *\nDisallow: https://*.example.com/tmp/\n")
    assert verdict(matching, "/tmp/1") is Verdict.DENY
    other = fetched("User-agent: *\nDisallow: https://*.example.org/tmp/\n")
    assert verdict(other, "/tmp/1") is Verdict.NONE


def test_absolute_url_rule_with_many_host_wildcards_is_read_in_linear_time() -> None:
    # A regular expression of 40 ".*" never finished on this host (catastrophic backtracking).
    body = ("User-agent: *\nDisallow: https://" + "*a" * 40 + "*b/x\nDisallow: /y\n").encode()
    policy = robots.parse(body, host="a" * 80 + ".example")
    assert robots.evaluate(policy, f"{SITE}/x", "heed").verdict is Verdict.NONE
    assert robots.evaluate(policy, f"{SITE}/y", "heed").verdict is Verdict.DENY
    matching = robots.parse(b"User-agent: *\nDisallow: https://w*.ex*le.*/x\n", host=HOST)
    assert robots.evaluate(matching, f"{SITE}/x", "heed").verdict is Verdict.DENY


@settings(max_examples=300, deadline=None)
@given(st.text("ab.*", max_size=8), st.text("ab.", max_size=10))
def test_host_wildcard_matches_like_a_regular_expression(pattern: str, host: str) -> None:
    from filters.robots._hosts import glob as _glob

    expected = re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), host, re.DOTALL)
    assert _glob(pattern, host) is (expected is not None)


def test_absolute_url_rule_without_known_host_keeps_its_path() -> None:
    # parse() has no origin: the rule cannot be placed, so it is read conservatively.
    policy = robots.parse(b"User-agent: *\nDisallow: http://prod.other-host.com/x\n")
    assert robots.evaluate(policy, f"{SITE}/x", "heed").verdict is Verdict.DENY
    host_known = robots.parse(
        b"User-agent: *\nDisallow: http://prod.other-host.com/x\n", host="www.example.com"
    )
    assert robots.evaluate(host_known, f"{SITE}/x", "heed").verdict is Verdict.NONE


def test_absolute_url_allow_is_still_dropped() -> None:
    # Google never matches such an Allow; dropping it can only exclude more.
    policy = fetched("User-agent: *\nDisallow: /\nAllow: https://www.example.com/public\n")
    assert verdict(policy, "/public") is Verdict.DENY


def test_aitxt_absolute_url_rule_for_another_host_is_ignored() -> None:
    outcome = FetchOutcome(
        url=f"{SITE}/ai.txt",
        status=200,
        body=b"User-agent: *\nDisallow: https://cdn.other.net/\nDisallow: /Images/\n",
    )
    policy = aitxt.policy_from_fetch(outcome)
    assert aitxt.evaluate(policy, f"{SITE}/page", "heed").verdict is Verdict.NONE
    assert aitxt.evaluate(policy, f"{SITE}/images/a.png", "heed").verdict is Verdict.DENY
