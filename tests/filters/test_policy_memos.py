"""The signal modules' memos live on the parsed objects (or are value-keyed caches): no state
is shared between policies, and no memo gives another policy's, URL's or thread's answer."""

from __future__ import annotations

import sys
import threading

from filters import FetchOutcome, Purpose, Verdict, aipref, aitxt, content_signal, robots, rsl
from filters.model import DocumentInfo
from filters.patterns import CACHE_MAX_CHARS
from filters.reasons import ReasonCode
from filters.robots import ExtensionRule

ORIGIN = "https://example.org"


def _robots(body: bytes, url: str = f"{ORIGIN}/robots.txt") -> robots.RobotsPolicy:
    return robots.policy_from_fetch(FetchOutcome(url=url, status=200, body=body))


def test_policies_without_rules_have_books_of_their_own() -> None:
    a = robots.policy_from_fetch(FetchOutcome(url=f"{ORIGIN}/robots.txt", status=404))
    b = robots.policy_from_fetch(FetchOutcome(url=f"{ORIGIN}/robots.txt", status=503))
    assert a.book is not b.book
    assert robots.RobotsPolicy(a.state).book is not robots.RobotsPolicy(a.state).book
    assert aitxt.AitxtPolicy(a.state).book is not aitxt.AitxtPolicy(a.state).book
    assert robots.evaluate_ai_agents(a, f"{ORIGIN}/x", ("GPTBot",)).verdict is Verdict.NONE


def test_the_last_path_is_kept_per_policy() -> None:
    exact = robots.parse(b"User-agent: *\nDisallow: /Private/\n")
    folded = robots.parse(b"User-agent: *\nDisallow: /Private/\n", case_insensitive=True)
    ai = aitxt.parse(b"User-agent: *\nDisallow: /Private/\n")
    for _ in range(2):
        for url, exact_denies in ((f"{ORIGIN}/private/a", False), (f"{ORIGIN}/Private/a", True)):
            assert (robots.evaluate(exact, url, "heed").verdict is Verdict.DENY) is exact_denies
            assert robots.evaluate(folded, url, "heed").verdict is Verdict.DENY
            assert aitxt.evaluate(ai, url, "heed").verdict is Verdict.DENY
            assert (robots.evaluate(exact, url, "heed").verdict is Verdict.DENY) is exact_denies


def test_protego_targets_are_kept_per_file() -> None:
    # "//a" must reach protego behind a guard host; "%C3%A9" as the decoded character.
    first = robots.parse(b"User-agent: *\nDisallow: //a\n")
    second = robots.parse(b"User-agent: *\nDisallow: /\xc3\xa9\nAllow: /\n")
    urls = [f"{ORIGIN}//a", f"{ORIGIN}/%C3%A9", f"{ORIGIN}/\u00e9x", f"{ORIGIN}/b"]
    want = {
        (id(first), f"{ORIGIN}//a"): Verdict.DENY,
        (id(second), f"{ORIGIN}/%C3%A9"): Verdict.DENY,
        (id(second), f"{ORIGIN}/\u00e9x"): Verdict.DENY,
    }
    for url in urls + urls[::-1]:
        for policy in (first, second, first):
            got = robots.evaluate(policy, url, "heed").verdict
            assert got is want.get((id(policy), url), Verdict.NONE), (url, policy)


def test_threads_sharing_policies_get_the_answers_of_a_lone_evaluation() -> None:
    policies = [
        _robots(
            b"User-agent: *\nDisallow: /p/\nDisallow: /*.x$\nUser-agent: GPTBot\nDisallow: /g/\n"
        ),
        _robots(b"User-agent: *\nAllow: /p/\nDisallow: /\n", "https://other.org/robots.txt"),
    ]
    urls = [f"{ORIGIN}/{d}/{i}{ext}" for i in range(150) for d in "pgq" for ext in ("", ".x")]
    tokens = ("GPTBot", "CCBot")

    def answers(policy: robots.RobotsPolicy) -> list[tuple[Verdict, Verdict]]:
        return [
            (
                robots.evaluate(policy, url, "heed").verdict,
                robots.evaluate_ai_agents(policy, url, tokens).verdict,
            )
            for url in urls
        ]

    want = [answers(p) for p in policies]
    got: dict[int, list[list[tuple[Verdict, Verdict]]]] = {}

    def work(n: int) -> None:
        got[n] = [answers(policies[(n + k) % 2]) for k in range(2)]

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    for n in range(4):
        assert got[n] == [want[n % 2], want[(n + 1) % 2]]


def _usage(path: str, value: str, line: int, raw: str | None = None) -> ExtensionRule:
    return ExtensionRule(path, value, line, raw or f"Content-Usage: {path} {value}")


def test_extension_verdicts_are_cached_by_the_selected_rules_themselves() -> None:
    url = f"{ORIGIN}/drafts/1"
    a = (_usage("/", "train-ai=y", 1), _usage("/drafts/", "train-ai=n", 2))
    b = (_usage("/", "train-ai=y", 1), _usage("/drafts/", "train-ai=n", 9))  # other line
    first = aipref.evaluate_rules(a, (), url, Purpose.TRAIN_AI)
    assert first.verdict is Verdict.DENY and first.raw == "Content-Usage: /drafts/ train-ai=n"
    assert aipref.evaluate_rules(tuple(a), (), url, Purpose.TRAIN_AI) == first
    # the same rule text on another line of another file: equal results, by value
    assert aipref.evaluate_rules(b, (), url, Purpose.TRAIN_AI) == first
    assert aipref.evaluate_rules(a, (), url, Purpose.TRAIN_AI, source="s").source == "s"


def test_rules_with_very_long_lines_stay_out_of_the_caches() -> None:
    long_raw = "Content-Usage: /x/ train-ai=n #" + "z" * CACHE_MAX_CHARS
    rules = (_usage("/x/", "train-ai=n", 1, long_raw),)
    signal_rules = (ExtensionRule("/x/", "ai-train=no", 1, "Content-Signal:" + "z" * 3000),)
    before = (
        aipref._rules_verdict_cached.cache_info().currsize,
        content_signal._rules_verdict_cached.cache_info().currsize,
    )
    got = aipref.evaluate_rules(rules, (), f"{ORIGIN}/x/1", Purpose.TRAIN_AI, source="long")
    assert got.verdict is Verdict.DENY and got.raw == long_raw
    denied = content_signal.evaluate_rules(signal_rules, (), f"{ORIGIN}/x/", Purpose.TRAIN_AI)
    assert denied.reasons == (ReasonCode.CONTENT_SIGNAL_DISALLOW,)
    after = (
        aipref._rules_verdict_cached.cache_info().currsize,
        content_signal._rules_verdict_cached.cache_info().currsize,
    )
    assert after == before


def _doc(url: str) -> DocumentInfo:
    return DocumentInfo(url, url, 200, None, "2026-11-22T00:00:00+00:00", None)


def test_rsl_verdicts_are_kept_per_policy() -> None:
    body = (
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
        b'<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
    )
    one = rsl.parse(body, document=_doc("https://one.org/l.xml"))
    two = rsl.parse(body, document=_doc("https://two.org/l.xml"))
    assert one.verdicts == {} and two.verdicts == {}
    assert rsl.evaluate(one, f"{ORIGIN}/a", Purpose.TRAIN_AI).source == "https://one.org/l.xml"
    assert len(one.verdicts) == 1 and two.verdicts == {}
    assert rsl.evaluate(two, f"{ORIGIN}/a", Purpose.TRAIN_AI).source == "https://two.org/l.xml"
    assert rsl.evaluate(one, f"{ORIGIN}/b", Purpose.TRAIN_AI).source == "https://one.org/l.xml"
