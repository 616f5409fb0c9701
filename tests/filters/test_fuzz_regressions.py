"""Contract violations found by bench/fuzz.py, each pinned with the input shape that found it.

A bound on the work a parser does must not drop what follows it: a ``noai`` or an
``ai-train=no`` written after many empty or unknown pieces still denies.
"""

from __future__ import annotations

from filters import content_signal, robots, xrobots
from filters.model import Purpose, Verdict
from filters.reasons import ReasonCode

AGENTS = robots.default_ai_agents()


def xrt(lines: list[str]) -> Verdict:
    return xrobots.evaluate_header(
        lines, product_token="heedbot", ai_agents=AGENTS, purpose=Purpose.TRAIN_AI
    ).verdict


def test_x_robots_tag_noai_after_many_empty_pieces_denies() -> None:
    # fuzz: b"no,,,,(300 commas)...,noai" was read as "none" (pieces past 256 dropped)
    line = "noindex" + "," * 300 + "noai"
    result = xrobots.evaluate_header(
        [line], product_token="heedbot", ai_agents=AGENTS, purpose=Purpose.TRAIN_AI
    )
    assert result.verdict is Verdict.DENY
    assert ReasonCode("x-robots-tag.noai") in result.reasons


def test_x_robots_tag_noai_after_many_unknown_directives_denies() -> None:
    line = ", ".join(f"max-snippet:{i}" for i in range(400)) + ", noai"
    assert xrt([line]) is Verdict.DENY


def test_meta_robots_noai_after_many_pieces_denies() -> None:
    result = xrobots.evaluate_meta(
        [("robots", "," * 1000 + "noml")],
        product_token="heedbot",
        ai_agents=AGENTS,
        purpose=Purpose.TRAIN_AI,
    )
    assert result.verdict is Verdict.DENY


def test_content_signal_no_after_many_pairs_denies() -> None:
    # fuzz: b"search=yes, ai-ijput=yes< ai-t,,,(70 commas),rain=yes" + "ai-train=no"
    value = "search=yes, ai-ijput=yes< ai-t" + "," * 70 + "rain=yes"
    result = content_signal.evaluate_header([value, "ai-train=no"], Purpose.TRAIN_AI)
    assert result.verdict is Verdict.DENY
    assert result.reasons == (ReasonCode.CONTENT_SIGNAL_DISALLOW,)


def test_content_signal_robots_rule_no_after_many_pairs_denies() -> None:
    body = ("User-agent: *\nContent-Signal: " + "x=1, " * 100 + "ai-train=no\n").encode()
    policy = robots.parse(body)
    agent_rules, star_rules = robots.extension_rules(policy, "heedbot", "content-signal")
    result = content_signal.evaluate_rules(
        agent_rules, star_rules, "https://example.com/a", Purpose.TRAIN_AI
    )
    assert result.verdict is Verdict.DENY


def test_content_signal_skipped_notes_stay_bounded() -> None:
    parsed = content_signal.parse("junk, " * 10_000 + "ai-input=no")
    assert parsed.signals == {Purpose.AI_INPUT: False}
    assert len(parsed.diagnostics) <= 64


def test_long_patterns_are_not_kept_in_the_pattern_caches() -> None:
    # fuzz: the bench's memory grew by ~100 MB per 100,000 robots.txt inputs: the pattern
    # caches bound their number of entries, not their size, so long rule lines stayed.
    import gc
    import tracemalloc

    from filters import aitxt

    def read(i: int) -> None:
        line = f"/{i}/%7E" + "x" * 20_000  # a 20 KB rule with an escape, new for every file
        body = f"User-agent: *\nDisallow: {line}\nAllow: {line}z\n".encode()
        robots.evaluate(robots.parse(body), f"https://example.com/{i}/~x", "heedbot")
        aitxt.evaluate(aitxt.parse(body), f"https://example.com/{i}/~x", "heedbot")

    read(-1)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(100):
            read(i)
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    ours = snapshot.filter_traces([tracemalloc.Filter(True, "*filters/patterns.py")])
    retained = sum(stat.size for stat in ours.statistics("filename"))
    assert retained < 1024 * 1024  # the old caches kept about 8 MB of these rules here
