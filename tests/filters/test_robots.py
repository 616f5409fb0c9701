"""Unit tests for filters/robots/ (SPEC.md §3.1, §3.2, RFC 9309)."""

from __future__ import annotations

import pytest

from filters import robots
from filters.headers import Headers
from filters.model import DocState, FetchErrorKind, FetchOutcome, Signal, Verdict
from filters.reasons import ReasonCode

ROBOTS_URL = "https://example.com/robots.txt"
PAGE = "https://example.com/page"


def deny(body: str, url: str, agent: str = "heed") -> str | None:
    """The raw line of a robots.disallow verdict; fails unless the verdict is that."""
    result = robots.evaluate(robots.parse(body.encode()), url, agent)
    assert result.signal is Signal.ROBOTS
    assert result.verdict is Verdict.DENY
    assert result.reasons == (ReasonCode.ROBOTS_DISALLOW,)
    return result.raw


def allowed(body: str | bytes, url: str, agent: str = "heed", **kw: int) -> bool:
    raw = body.encode() if isinstance(body, str) else body
    result = robots.evaluate(robots.parse(raw, **kw), url, agent)
    assert result.verdict in (Verdict.NONE, Verdict.DENY)
    return result.verdict is Verdict.NONE


# --- RFC 9309 fixes -------------------------------------------------------------------------


def test_unknown_line_does_not_split_group() -> None:
    body = "User-agent: heed\nFoo: bar\nSitemap: https://example.com/s.xml\nUser-agent: other\n"
    body += "Disallow: /x\n"
    assert deny(body, "https://example.com/x", "heed") == "Disallow: /x"
    assert deny(body, "https://example.com/x", "other") == "Disallow: /x"


def test_crawl_delay_and_extension_lines_do_not_split_group() -> None:
    body = "User-agent: a\nCrawl-delay: 3\nContent-Usage: train-ai=n\nUser-agent: b\nDisallow: /\n"
    assert not allowed(body, PAGE, "a")
    assert not allowed(body, PAGE, "b")


def test_user_agent_value_cut_at_first_space_and_slash() -> None:
    body = "User-agent: heed crawler\nDisallow: /a\n\nUser-agent: heed/2.0\nDisallow: /b\n"
    assert not allowed(body, "https://example.com/a")
    assert not allowed(body, "https://example.com/b")  # both groups are "heed", merged
    assert allowed(body, "https://example.com/a", "heed crawler")  # the query is not cut


def test_user_agent_matched_case_insensitively() -> None:
    body = "User-agent: HeEd\nDisallow: /\n"
    assert deny(body, PAGE, "HEED") == "Disallow: /"
    assert deny(body, PAGE, "heed") == "Disallow: /"


def test_user_agent_not_matched_as_substring() -> None:
    # protego alone would let the group "heed" apply to "heedless" and "x-heed".
    body = "User-agent: heed\nDisallow: /\n"
    assert allowed(body, PAGE, "heedless")
    assert allowed(body, PAGE, "x-heed")


def test_groups_for_the_token_are_merged() -> None:
    body = "User-agent: heed\nDisallow: /a\n\nUser-agent: other\nDisallow: /\n\n"
    body += "User-agent: heed\nDisallow: /b\n"
    assert deny(body, "https://example.com/a/1") == "Disallow: /a"
    assert deny(body, "https://example.com/b/1") == "Disallow: /b"
    assert allowed(body, "https://example.com/c")


def test_no_group_falls_back_to_star_and_star_groups_merge() -> None:
    body = "User-agent: *\nDisallow: /a\n\nUser-agent: other\nAllow: /\n\n"
    body += "User-agent: *\nDisallow: /b\n"
    assert deny(body, "https://example.com/a") == "Disallow: /a"
    assert deny(body, "https://example.com/b") == "Disallow: /b"


def test_specific_group_replaces_star() -> None:
    body = "User-agent: *\nDisallow: /\n\nUser-agent: heed\nDisallow: /private\n"
    assert allowed(body, "https://example.com/public")
    assert deny(body, "https://example.com/private") == "Disallow: /private"


def test_specific_group_without_rules_allows_everything() -> None:
    body = "User-agent: heed\nDisallow:\n\nUser-agent: *\nDisallow: /\n"
    assert allowed(body, PAGE)
    assert not allowed(body, PAGE, "other")


def test_rules_before_any_user_agent_are_ignored() -> None:
    policy = robots.parse(b"Disallow: /\nUser-agent: *\nAllow: /\n")
    assert robots.evaluate(policy, PAGE, "heed").verdict is Verdict.NONE
    assert any("before any user-agent" in d for d in policy.diagnostics)


def test_longest_match_wins() -> None:
    body = "User-agent: *\nAllow: /a\nDisallow: /a/b\nAllow: /a/b/c\n"
    assert allowed(body, "https://example.com/a/x")
    assert deny(body, "https://example.com/a/b/x") == "Disallow: /a/b"
    result = robots.evaluate(robots.parse(body.encode()), "https://example.com/a/b/c/d", "heed")
    assert (result.verdict, result.raw) == (Verdict.NONE, "Allow: /a/b/c")


def test_equal_length_allow_wins() -> None:
    body = "User-agent: *\nDisallow: /page\nAllow: /page\n"
    result = robots.evaluate(robots.parse(body.encode()), PAGE, "heed")
    assert (result.verdict, result.raw) == (Verdict.NONE, "Allow: /page")
    body = "User-agent: *\nDisallow: /*.html\nAllow: /a/b.html\n"  # both 9 octets
    assert allowed(body, "https://example.com/a/b.html")


def test_wildcard_and_end_anchor() -> None:
    body = "User-agent: *\nDisallow: /*.pdf$\nDisallow: /tmp*/x\n"
    assert deny(body, "https://example.com/doc/a.pdf") == "Disallow: /*.pdf$"
    assert allowed(body, "https://example.com/doc/a.pdf?download=1")
    assert deny(body, "https://example.com/tmp123/x/y") == "Disallow: /tmp*/x"
    assert allowed(body, "https://example.com/tmp123/y")


def test_query_is_part_of_the_path() -> None:
    body = "User-agent: *\nDisallow: /search?q=\n"
    assert deny(body, "https://example.com/search?q=cats") == "Disallow: /search?q="
    assert allowed(body, "https://example.com/search")


def test_percent_encoding_normalised() -> None:
    body = "User-agent: *\nDisallow: /caf%C3%A9\nDisallow: /%7Euser\n"
    assert deny(body, "https://example.com/café/menu") == "Disallow: /caf%C3%A9"
    assert deny(body, "https://example.com/~user/x") == "Disallow: /%7Euser"
    assert deny("User-agent: *\nDisallow: /ü\n", "https://example.com/%c3%bc") == "Disallow: /ü"


def test_bom_is_stripped() -> None:
    assert not allowed(b"\xef\xbb\xbfUser-agent: heed\nDisallow: /\n", PAGE)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str) -> None:
    body = eol.join(["User-agent: heed", "Allow: /ok", "Disallow: /"]) + eol
    assert allowed(body, "https://example.com/ok")
    assert not allowed(body, PAGE)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    body = b"User-agent: heed\nDisallow: /\xff\xfe\nDisallow: /x\n"
    assert not allowed(body, "https://example.com/x")


def test_missing_colon_accepted_between_two_words() -> None:
    assert not allowed("user-agent heed\ndisallow /\n", PAGE)


def test_robots_txt_always_allowed() -> None:
    policy = robots.parse(b"User-agent: *\nDisallow: /\n")
    assert robots.evaluate(policy, ROBOTS_URL, "heed").verdict is Verdict.NONE
    assert robots.evaluate(policy, PAGE, "heed").verdict is Verdict.DENY


def test_disallow_without_leading_slash_is_read_conservatively() -> None:
    assert not allowed("User-agent: *\nDisallow: private\n", "https://example.com/private/x")
    body = "User-agent: *\nDisallow: https://example.com/secret\n"
    assert not allowed(body, "https://example.com/secret/1")


def test_empty_disallow_allows() -> None:
    assert allowed("User-agent: *\nDisallow:\n", PAGE)


# --- size bound --------------------------------------------------------------------------


def test_max_bytes_cuts_at_line_boundary() -> None:
    body = b"User-agent: heed\nDisallow: /a\nDisallow: /bbbbbbbb\n"
    cut = len(b"User-agent: heed\nDisallow: /a\nDisallow: /b")  # mid-line
    policy = robots.parse(body, max_bytes=cut)
    assert robots.evaluate(policy, "https://example.com/a", "heed").verdict is Verdict.DENY
    # the partial "Disallow: /b" must not become a rule
    assert robots.evaluate(policy, "https://example.com/bx", "heed").verdict is Verdict.NONE
    assert any("cut" in d for d in policy.diagnostics)


def test_max_bytes_keeps_a_line_ending_exactly_at_the_bound() -> None:
    body = b"User-agent: heed\nDisallow: /a\n#"
    policy = robots.parse(body, max_bytes=len(body) - 2)  # bound right before "\n"
    assert robots.evaluate(policy, "https://example.com/a", "heed").verdict is Verdict.DENY


def test_default_bound_reads_rules_beyond_500_kib() -> None:
    filler = b"# " + b"x" * 1000 + b"\n"
    body = b"User-agent: heed\n" + filler * 700 + b"Disallow: /late\n"
    assert len(body) > 600 * 1024
    assert robots.DEFAULT_MAX_BYTES == 2 * 1024 * 1024
    assert not allowed(body, "https://example.com/late")


# --- policy_from_fetch -------------------------------------------------------------------


def fetch(status: int | None, body: bytes = b"", **kw: object) -> robots.RobotsPolicy:
    return robots.policy_from_fetch(FetchOutcome(ROBOTS_URL, status=status, body=body, **kw))  # type: ignore[arg-type]


def test_2xx_is_parsed() -> None:
    policy = fetch(200, b"User-agent: *\nDisallow: /\n")
    assert policy.state is DocState.OK
    assert policy.document is not None and policy.document.url == ROBOTS_URL
    result = robots.evaluate(policy, PAGE, "heed")
    assert result.reasons == (ReasonCode.ROBOTS_DISALLOW,)
    assert (result.raw, result.source) == ("Disallow: /", ROBOTS_URL)
    assert result.document == policy.document


def test_truncated_2xx_drops_incomplete_last_line() -> None:
    policy = fetch(200, b"User-agent: *\nDisallow: /a\nDisallow: /b", truncated=True)
    assert robots.evaluate(policy, "https://example.com/a", "heed").verdict is Verdict.DENY
    assert robots.evaluate(policy, "https://example.com/b", "heed").verdict is Verdict.NONE


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451, 499])
def test_4xx_except_429_allows_everything(status: int) -> None:
    policy = fetch(status, b"User-agent: *\nDisallow: /\n")  # an error page is never parsed
    assert policy.state is DocState.ABSENT
    result = robots.evaluate(policy, PAGE, "heed")
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())


@pytest.mark.parametrize("status", [429, 500, 502, 503, 599, 100, 301, 302, 304, 308, 600])
def test_other_statuses_disallow_everything(status: int) -> None:
    policy = fetch(status, b"User-agent: *\nAllow: /\n")
    assert policy.state is DocState.UNREACHABLE
    result = robots.evaluate(policy, PAGE, "heed")
    assert result.verdict is Verdict.DENY
    assert result.reasons == (ReasonCode.ROBOTS_UNREACHABLE,)
    assert (result.raw, result.source) == (str(status), ROBOTS_URL)


@pytest.mark.parametrize("kind", list(FetchErrorKind))
def test_fetch_errors_disallow_everything(kind: FetchErrorKind) -> None:
    policy = fetch(None, error=kind)
    assert policy.state is DocState.UNREACHABLE
    result = robots.evaluate(policy, PAGE, "heed")
    assert result.reasons == (ReasonCode.ROBOTS_UNREACHABLE,)
    assert result.raw == kind.value


def test_error_with_a_status_is_still_unreachable() -> None:
    policy = fetch(200, b"User-agent: *\nAllow: /\n", error=FetchErrorKind.TOO_LARGE)
    assert policy.state is DocState.UNREACHABLE
    assert robots.evaluate(policy, PAGE, "heed").raw == "too-large"


def test_no_status_no_error_is_unreachable() -> None:
    policy = fetch(None)
    assert robots.evaluate(policy, PAGE, "heed").reasons == (ReasonCode.ROBOTS_UNREACHABLE,)


def test_unreachable_still_allows_robots_txt() -> None:
    assert robots.evaluate(fetch(503), ROBOTS_URL, "heed").verdict is Verdict.NONE


# --- evaluate_ai_agents ------------------------------------------------------------------

AI_BODY = (
    "User-agent: *\nDisallow: /private/\n\n"
    "User-agent: GPTBot\nDisallow: /\n\n"
    "User-agent: CCBot\nDisallow: /articles/\n"
)


def ai(body: str, url: str, agents: tuple[str, ...]) -> tuple[Verdict, str | None, str | None]:
    result = robots.evaluate_ai_agents(robots.parse(body.encode()), url, agents)
    assert result.signal is Signal.ROBOTS_AI_AGENT
    if result.verdict is Verdict.DENY:
        assert result.reasons == (ReasonCode.ROBOTS_AI_AGENT,)
    else:
        assert result.reasons == ()
    return result.verdict, result.detail, result.raw


def test_ai_agent_with_own_group() -> None:
    url = "https://example.com/blog/1"
    assert ai(AI_BODY, url, ("CCBot", "GPTBot")) == (Verdict.DENY, "GPTBot", "Disallow: /")
    assert ai(AI_BODY, "https://example.com/articles/1", ("CCBot", "GPTBot"))[1] == "CCBot"


def test_ai_agent_falling_back_to_star() -> None:
    url = "https://example.com/private/x"
    verdict, detail, raw = ai(AI_BODY, url, ("ClaudeBot", "CCBot"))
    assert (verdict, detail, raw) == (Verdict.DENY, "ClaudeBot", "Disallow: /private/")
    # CCBot has its own group, which replaces "*": /private/ is allowed for it
    assert ai(AI_BODY, url, ("CCBot",)) == (Verdict.NONE, None, None)


def test_ai_agents_first_token_in_list_order() -> None:
    body = "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n"
    assert ai(body, PAGE, ("Bytespider", "CCBot", "GPTBot"))[1] == "CCBot"
    assert ai(body, PAGE, ["GPTBot", "CCBot"])[1] == "GPTBot"  # type: ignore[arg-type]


def test_ai_agents_none_when_allowed_or_unreachable() -> None:
    assert ai(AI_BODY, "https://example.com/blog", ("ClaudeBot", "CCBot"))[0] is Verdict.NONE
    policy = fetch(503)
    result = robots.evaluate_ai_agents(policy, PAGE, robots.default_ai_agents())
    assert (result.verdict, result.reasons) == (Verdict.NONE, ())
    assert robots.evaluate(policy, PAGE, "heed").reasons == (ReasonCode.ROBOTS_UNREACHABLE,)


def test_ai_agents_case_insensitive_tokens() -> None:
    assert ai("User-agent: gptbot\nDisallow: /\n", PAGE, ("GPTBot",))[1] == "GPTBot"


def test_default_ai_agents_list() -> None:
    agents = robots.default_ai_agents()
    assert agents[:3] == ("GPTBot", "ClaudeBot", "anthropic-ai")
    # SPEC.md §3.2 (updated): the SPEC's 14 tokens come first, then the shipped list's others.
    assert len(agents) > 14 and agents[13] == "Amazonbot"
    assert "cohere-training-data-crawler" in agents


# --- crawl_delay, extension_rules, license_urls ------------------------------------------


def test_crawl_delay_of_applicable_group() -> None:
    body = "User-agent: *\nCrawl-delay: 5\nDisallow: /y\n\n"
    body += "User-agent: heed\nCrawl-delay: 2.5\nDisallow: /x\n"
    policy = robots.parse(body.encode())
    assert robots.crawl_delay(policy, "heed") == 2.5
    assert robots.crawl_delay(policy, "other") == 5.0


def test_group_without_rules_runs_into_the_next_user_agent() -> None:
    # RFC 9309: only a rule ends the user-agent lines of a group, blank lines do not.
    body = "User-agent: *\nCrawl-delay: 5\n\nUser-agent: heed\nDisallow: /x\n"
    policy = robots.parse(body.encode())
    assert robots.crawl_delay(policy, "heed") == 5.0
    assert robots.evaluate(policy, "https://example.com/x", "other").verdict is Verdict.DENY


def test_crawl_delay_ignores_junk_and_takes_largest() -> None:
    body = "User-agent: heed\nCrawl-delay: soon\nCrawl-delay: -1\nCrawl-delay: nan\n"
    body += "Crawl-delay: 1\nCrawl-delay: inf\nCrawl-delay: 4\n"
    policy = robots.parse(body.encode())
    assert robots.crawl_delay(policy, "heed") == 4.0
    assert sum("crawl-delay" in d for d in policy.diagnostics) == 4
    assert robots.crawl_delay(robots.parse(b"User-agent: heed\nDisallow: /\n"), "heed") is None
    assert robots.crawl_delay(fetch(404), "heed") is None


def test_extension_rules_own_and_star() -> None:
    body = (
        "User-agent: *\nContent-Usage: train-ai=n\nContent-Signal: search=yes\nAllow: /\n\n"
        "User-agent: heed\nContent-Usage: /docs/ train-ai=y\nAllow: /\n"
    )
    policy = robots.parse(body.encode())
    mine, star = robots.extension_rules(policy, "HEED", "Content-Usage")
    assert [(r.path, r.value, r.line) for r in mine] == [("/docs/", "train-ai=y", 7)]
    assert mine[0].raw == "Content-Usage: /docs/ train-ai=y"
    assert [(r.path, r.value) for r in star] == [("/", "train-ai=n")]
    other_mine, other_star = robots.extension_rules(policy, "other", "content-usage")
    assert other_mine == () and other_star == star
    assert robots.extension_rules(policy, "heed", "content-signal")[0] == ()
    assert robots.extension_rules(policy, "heed", "content-signal")[1][0].value == "search=yes"


def test_extension_rule_wildcard_path() -> None:
    policy = robots.parse(b"User-agent: *\nContent-Usage: *.pdf train-ai=n\n")
    (rule,) = robots.extension_rules(policy, "heed", "content-usage")[1]
    assert (rule.path, rule.value) == ("*.pdf", "train-ai=n")


def test_license_urls_global_in_order() -> None:
    body = (
        "License: https://example.com/a.xml\nUser-agent: *\nDisallow: /x\n"
        "LICENSE: https://example.com/b.xml\n\nUser-agent: other\nLicense: https://c.example/\n"
    )
    policy = robots.parse(body.encode())
    assert policy.license_urls == (
        "https://example.com/a.xml",
        "https://example.com/b.xml",
        "https://c.example/",
    )
    # License lines do not end a group's user-agent run either
    assert robots.evaluate(policy, "https://example.com/x", "heed").verdict is Verdict.DENY


def test_headers_are_irrelevant_for_robots() -> None:
    outcome = FetchOutcome(
        ROBOTS_URL,
        status=200,
        body=b"User-agent: *\nDisallow: /\n",
        headers=Headers({"Content-Type": "text/html"}),
    )
    assert robots.policy_from_fetch(outcome).state is DocState.OK
