"""The shipped AI crawler token list by purpose (filters/ai_agents.py, SPEC.md §3.2).

The data file itself (loads, provenance, no case duplicates, the SPEC's 14 training tokens),
the defaults per purpose, the loader's refusals, and pre-fetch decisions through the engine's
real ``decide_pre_fetch`` for train-ai and ai-input runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from filters import ConfigError, FetchOutcome, Headers, Purpose, ReasonCode, robots
from filters.ai_agents import (
    CONFIGURED_SOURCE,
    FUNCTIONS,
    SPEC_TRAINING_TOKENS,
    agents_provenance,
    parse_agent_list,
    shipped_agent_list,
)
from filters.engine import NOT_CONFIGURED, EngineConfig, SiteSignals, decide_pre_fetch

SITE = "https://a.example"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

#: The 14 tokens SPEC.md §3.2 names, written out here so a change to the code's copy fails.
SPEC_14 = [
    "GPTBot",
    "ClaudeBot",
    "anthropic-ai",
    "CCBot",
    "Google-Extended",
    "Applebot-Extended",
    "Bytespider",
    "meta-externalagent",
    "FacebookBot",
    "cohere-training-data-crawler",
    "AI2Bot",
    "Diffbot",
    "PanguBot",
    "Amazonbot",
]


def _raw() -> dict[str, Any]:
    text = resources.files("filters").joinpath("data/ai_agents.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


# --- the data file ---------------------------------------------------------------------------


def test_data_file_loads_with_its_provenance() -> None:
    shipped = shipped_agent_list()
    assert shipped.source.startswith("https://github.com/ai-robots-txt/ai.robots.txt/")
    assert shipped.source.endswith("/robots.json")
    datetime.strptime(shipped.retrieved, "%Y-%m-%d")  # a real date, not free text
    assert _raw()["notes"]
    assert len(shipped.tokens) > 100
    for token in shipped.tokens:
        assert token.functions and set(token.functions) <= set(FUNCTIONS), token
        assert token.source.startswith("https://"), token


def test_data_file_has_no_case_duplicates() -> None:
    names = [t["name"] for t in _raw()["tokens"]]
    lowered = [n.lower() for n in names]
    assert len(set(lowered)) == len(lowered)
    # The community list spells these twice; the shipped file keeps one spelling.
    assert lowered.count("meta-externalagent") == 1
    assert lowered.count("webzio-extended") == 1


def test_every_spec_token_is_a_training_token_in_the_file() -> None:
    assert list(SPEC_TRAINING_TOKENS) == SPEC_14
    by_name = {t["name"]: t for t in _raw()["tokens"]}
    for name in SPEC_14:
        assert "training" in by_name[name]["function"], name
        assert by_name[name].get("spec") is True, name
    assert sum(1 for t in by_name.values() if t.get("spec")) == 14


def test_defaults_per_purpose() -> None:
    train = robots.default_ai_agents(Purpose.TRAIN_AI)
    ai_input = robots.default_ai_agents(Purpose.AI_INPUT)
    assert robots.default_ai_agents() == train
    assert list(train[:14]) == SPEC_14  # first, in the SPEC's order
    assert "ChatGPT-User" in ai_input and "ChatGPT-User" not in train
    assert "GPTBot" in train and "GPTBot" not in ai_input
    assert robots.default_ai_agents(Purpose.SEARCH) == ()
    for agents in (train, ai_input):
        assert len({a.lower() for a in agents}) == len(agents)


# --- the loader refuses what it cannot read --------------------------------------------------


def _doc(*tokens: dict[str, Any], **top: Any) -> str:
    base: dict[str, Any] = {"source": "https://example.org/list.json", "retrieved": "2026-01-01"}
    base.update(top)
    base["tokens"] = list(tokens)
    return json.dumps(base)


def _tok(name: str, *functions: str) -> dict[str, Any]:
    return {"name": name, "function": list(functions), "operator": None, "source": "https://x"}


def test_parse_keeps_file_order_and_puts_spec_tokens_first() -> None:
    parsed = parse_agent_list(_doc(_tok("ZBot", "training"), _tok("YBot", "ai-input", "search")))
    assert parsed.for_function("training") == (*SPEC_14, "ZBot")
    assert parsed.for_purpose(Purpose.AI_INPUT) == ("YBot",)
    assert parsed.for_function("search") == ("YBot",)
    assert parsed.for_purpose(Purpose.SEARCH) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        (_doc(_tok("ABot", "training"), _tok("abot", "ai-input")), "case aside"),
        (_doc(_tok("ABot", "training"), _tok("ABot", "training")), "case aside"),
        (_doc(_tok("ABot", "scraping")), "'function'"),
        (_doc(_tok("ABot")), "'function'"),
        (_doc(_tok("ABot", "training", "training")), "'function'"),
        (_doc(_tok("A Bot", "training")), "not a robots.txt product token"),
        (_doc(_tok("", "training")), "'name'"),
        (_doc(_tok("ABot", "training"), source=""), "'source'"),
        (_doc(_tok("ABot", "training"), retrieved=None), "'retrieved'"),
        (json.dumps({"source": "s", "retrieved": "r", "tokens": {}}), "'tokens'"),
    ],
)
def test_parse_refuses_a_malformed_list(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_agent_list(text)


def test_provenance_says_where_the_list_came_from() -> None:
    train = robots.default_ai_agents(Purpose.TRAIN_AI)
    shipped = agents_provenance(Purpose.TRAIN_AI, train, configured=False)
    assert shipped == {
        "source": shipped_agent_list().source,
        "retrieved": shipped_agent_list().retrieved,
        "purpose": "train-ai",
        "count": len(train),
    }
    configured = agents_provenance(Purpose.AI_INPUT, ("GPTBot",), configured=True)
    assert configured == {
        "source": CONFIGURED_SOURCE,
        "retrieved": None,
        "purpose": "ai-input",
        "count": 1,
    }


# --- decisions: each AI purpose infers reservations from its own tokens ----------------------

ROBOTS = b"""\
User-agent: *
Allow: /

User-agent: ChatGPT-User
Disallow: /assist

User-agent: gptbot
Disallow: /train
"""


def _site(body: bytes) -> SiteSignals:
    fetched = FetchOutcome(
        url=f"{SITE}/robots.txt",
        status=200,
        body=body,
        headers=Headers({"content-type": "text/plain"}),
    )
    return SiteSignals(robots=robots.policy_from_fetch(fetched))


def _reasons(path: str, purpose: Purpose, **kw: Any) -> tuple[tuple[ReasonCode, ...], str | None]:
    cfg = EngineConfig(purpose=purpose, ai_agents=robots.default_ai_agents(purpose), **kw)
    decision = decide_pre_fetch(_site(ROBOTS), f"{SITE}{path}", cfg, NOT_CONFIGURED, now=NOW)
    details = [e.detail for e in decision.evidence if e.signal.value == "robots-ai-agent"]
    return decision.reasons, (details[0] if details else None)


def test_an_ai_input_token_denies_an_ai_input_run_only() -> None:
    assert _reasons("/assist/x", Purpose.AI_INPUT) == (
        (ReasonCode.ROBOTS_AI_AGENT,),
        "ChatGPT-User",
    )
    assert _reasons("/assist/x", Purpose.TRAIN_AI)[0] == ()


def test_a_training_token_denies_a_train_ai_run_only() -> None:
    assert _reasons("/train/x", Purpose.TRAIN_AI) == ((ReasonCode.ROBOTS_AI_AGENT,), "GPTBot")
    assert _reasons("/train/x", Purpose.AI_INPUT)[0] == ()


def test_a_search_run_uses_no_ai_token() -> None:
    assert _reasons("/assist/x", Purpose.SEARCH)[0] == ()
    assert _reasons("/train/x", Purpose.SEARCH)[0] == ()


def test_a_configured_list_replaces_the_default() -> None:
    site = _site(ROBOTS)
    cfg = EngineConfig(purpose=Purpose.TRAIN_AI, ai_agents=("ChatGPT-User",))
    assert decide_pre_fetch(site, f"{SITE}/assist/x", cfg, NOT_CONFIGURED, now=NOW).reasons == (
        ReasonCode.ROBOTS_AI_AGENT,
    )
    assert decide_pre_fetch(site, f"{SITE}/train/x", cfg, NOT_CONFIGURED, now=NOW).allowed


def test_every_spec_token_with_a_group_denies_a_train_ai_run() -> None:
    for token in SPEC_14:
        if any(c.isdigit() for c in token):
            continue  # AI2Bot: see test_a_token_with_a_digit_names_its_group
        body = f"User-agent: *\nAllow: /\n\nUser-agent: {token}\nDisallow: /\n".encode()
        cfg = EngineConfig(purpose=Purpose.TRAIN_AI, ai_agents=robots.default_ai_agents())
        decision = decide_pre_fetch(_site(body), f"{SITE}/p", cfg, NOT_CONFIGURED, now=NOW)
        assert decision.reasons == (ReasonCode.ROBOTS_AI_AGENT,), token


def test_a_token_with_a_digit_names_its_group() -> None:
    body = b"User-agent: *\nAllow: /\n\nUser-agent: AI2Bot\nDisallow: /\n"
    cfg = EngineConfig(purpose=Purpose.TRAIN_AI, ai_agents=robots.default_ai_agents())
    decision = decide_pre_fetch(_site(body), f"{SITE}/p", cfg, NOT_CONFIGURED, now=NOW)
    assert decision.reasons == (ReasonCode.ROBOTS_AI_AGENT,)


def test_an_engine_config_left_without_ai_agents_uses_its_purposes_list() -> None:
    for purpose in Purpose:
        assert EngineConfig(purpose=purpose).ai_agents == robots.default_ai_agents(purpose)
    assert EngineConfig(purpose=Purpose.AI_INPUT, ai_agents=()).ai_agents == ()
    assert EngineConfig(ai_agents=("GPTBot",)).ai_agents == ("GPTBot",)
