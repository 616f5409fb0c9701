"""The memos behind the fast paths answer exactly what a fresh evaluation would."""

from __future__ import annotations

from filters import FetchOutcome, Purpose, Verdict, aipref, content_signal, robots, rsl
from filters._extrules import IdentityMemo, select_indices, select_rules
from filters.engine import EngineConfig, SiteSignals, decide_pre_fetch
from filters.reasons import ReasonCode
from filters.robots import ExtensionRule


def _rule(path: str, value: str, line: int) -> ExtensionRule:
    return ExtensionRule(path, value, line, f"Content-Usage: {path} {value}")


def test_identity_memo_answers_only_for_the_same_objects() -> None:
    memo: IdentityMemo[str] = IdentityMemo()
    key = (_rule("/", "train-ai=n", 1),)
    equal = (_rule("/", "train-ai=n", 1),)
    memo.put((key,), "stored")
    assert memo.get((key,)) == "stored"
    assert memo.get((equal,)) is None


def test_identity_memo_is_bounded() -> None:
    memo: IdentityMemo[int] = IdentityMemo(max_entries=2)
    keys = [(_rule("/", "x", i),) for i in range(3)]
    for i, key in enumerate(keys):
        memo.put((key,), i)
    assert memo.get((keys[2],)) == 2
    assert memo.get((keys[0],)) is None


def test_select_rules_and_indices_agree() -> None:
    rules = (_rule("/", "a", 1), _rule("/a/", "b", 2), _rule("/b/", "c", 3), _rule("/a/", "d", 4))
    assert select_indices(rules, "/a/x") == (1, 3)
    assert select_rules(rules, "/a/x") == (rules[1], rules[3])
    assert select_rules(list(rules), "/z") == (rules[0],)


def test_aipref_memo_keeps_rule_sets_and_paths_apart() -> None:
    deny_drafts = (_rule("/", "train-ai=y", 1), _rule("/drafts/", "train-ai=n", 2))
    grant_all = (_rule("/", "train-ai=y", 1), _rule("/drafts/", "search=n", 2))
    url = "https://example.org/drafts/x"
    first = aipref.evaluate_rules(deny_drafts, (), url, Purpose.TRAIN_AI)
    second = aipref.evaluate_rules(grant_all, (), url, Purpose.TRAIN_AI)
    assert first.verdict is Verdict.DENY and first.reasons == (ReasonCode.AIPREF_DISALLOW,)
    assert first.raw == "Content-Usage: /drafts/ train-ai=n"
    assert second.verdict is Verdict.NONE  # the /drafts/ rule wins and says nothing of train-ai
    home = aipref.evaluate_rules(deny_drafts, (), "https://example.org/", Purpose.TRAIN_AI)
    assert home.verdict is Verdict.GRANT and home.raw == "Content-Usage: / train-ai=y"
    again = aipref.evaluate_rules(list(deny_drafts), [], url, Purpose.TRAIN_AI)
    assert again == first
    for_search = aipref.evaluate_rules(deny_drafts, (), url, Purpose.SEARCH)
    assert for_search.verdict is Verdict.NONE


def test_content_signal_memo_keeps_sources_and_purposes_apart() -> None:
    rules = (ExtensionRule("/", "search=yes, ai-train=no", 1, "Content-Signal: ..."),)
    url = "https://example.org/a"
    train = content_signal.evaluate_rules(rules, (), url, Purpose.TRAIN_AI, source="s1")
    search = content_signal.evaluate_rules(rules, (), url, Purpose.SEARCH, source="s1")
    other = content_signal.evaluate_rules(rules, (), url, Purpose.TRAIN_AI, source="s2")
    assert train.verdict is Verdict.DENY and train.source == "s1"
    assert train.reasons == (ReasonCode.CONTENT_SIGNAL_DISALLOW,)
    assert search.verdict is Verdict.GRANT
    assert other.source == "s2"


def _site(body: bytes) -> SiteSignals:
    outcome = FetchOutcome(url="https://example.org/robots.txt", status=200, body=body)
    return SiteSignals(robots=robots.policy_from_fetch(outcome))


def test_engine_robots_plan_is_per_policy_and_config() -> None:
    slow = _site(b"User-agent: *\nCrawl-delay: 60\nContent-Usage: train-ai=n\n")
    quick = _site(b"User-agent: *\nCrawl-delay: 1\n")
    cfg = EngineConfig()
    lenient = EngineConfig(max_crawl_delay=120.0)
    url = "https://example.org/a"
    first = decide_pre_fetch(slow, url, cfg)
    assert first.reasons == (
        ReasonCode.AIPREF_DISALLOW,
        ReasonCode.POLITENESS_CRAWL_DELAY_TOO_LONG,
    )
    assert decide_pre_fetch(quick, url, cfg).allowed
    assert decide_pre_fetch(slow, url, lenient).reasons == (ReasonCode.AIPREF_DISALLOW,)
    assert decide_pre_fetch(slow, url, cfg).reasons == first.reasons


def test_rsl_memo_keeps_policies_urls_and_purposes_apart() -> None:
    body = (
        b'<rsl xmlns="https://rslstandard.org/rsl">'
        b'<content url="/archive/*"><license><prohibits type="usage">ai-train</prohibits>'
        b'</license></content><content url="https://other.org/"><license>'
        b'<prohibits type="usage">all</prohibits></license></content>'
        b'<content url="/"><license><permits type="usage">search</permits></license></content>'
        b"</rsl>"
    )
    policy = rsl.parse(body)
    other = rsl.parse(body.replace(b"ai-train</prohibits>", b"search</prohibits>"))
    url = "https://example.org/archive/1"
    assert rsl.evaluate(policy, url, Purpose.TRAIN_AI).detail == "ai-train"
    assert rsl.evaluate(other, url, Purpose.TRAIN_AI).verdict is Verdict.NONE
    assert rsl.evaluate(policy, url, Purpose.SEARCH).verdict is Verdict.NONE
    home = rsl.evaluate(policy, "https://example.org/", Purpose.SEARCH)
    assert home.verdict is Verdict.GRANT
    elsewhere = rsl.evaluate(policy, "https://other.org/", Purpose.SEARCH)
    assert elsewhere.reasons == (ReasonCode.RSL_PROHIBITED,) and elsewhere.detail == "all"
