"""robots.txt per RFC 9309 for heed's product token (SPEC.md §3.1, §3.2), built on protego.

CONTRACT (implemented by the robots work; the engine relies on exactly these names):

    parse(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
          case_insensitive: bool = False) -> RobotsPolicy
    policy_from_fetch(outcome: FetchOutcome, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RobotsPolicy
        2xx -> parse; 4xx except 429 -> allow-all (state ABSENT); 429, 5xx, any error
        (timeout, connection, redirect-limit, too-large?, blocked-address) -> complete disallow
        (state UNREACHABLE). ``policy.document`` = outcome.document().
    evaluate(policy, url: str, agent: str) -> SignalResult     (Signal.ROBOTS)
        DENY robots.disallow (raw = matching line, detail = None) | DENY robots.unreachable |
        NONE (allowed; raw = matching allow line if any). /robots.txt is always allowed.
    evaluate_ai_agents(policy, url, agents: Sequence[str]) -> SignalResult (Signal.ROBOTS_AI_AGENT)
        DENY robots.ai-agent with detail = the first token (in list order) that is disallowed.
        UNREACHABLE policy -> NONE here (robots.unreachable is already reported by evaluate).
    crawl_delay(policy, agent: str) -> float | None
    extension_rules(policy, agent: str, field: str) -> tuple[tuple[ExtensionRule, ...],
                                                             tuple[ExtensionRule, ...]]
        lines named ``field`` (lower-case, e.g. "content-usage", "content-signal") in the
        agent's own merged group(s) and in the ``*`` group: (agent_rules, star_rules).
        If the agent has no group of its own, agent_rules is empty.
    RobotsPolicy fields: state: DocState, document: DocumentInfo | None,
        license_urls: tuple[str, ...] (every ``License:`` line, any group, in order),
        diagnostics: tuple[str, ...] (what was skipped and why).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_BYTES", "ExtensionRule"]

#: SPEC.md §3.1: parse up to 2 MiB (RFC 9309 §2.5 requires at least 500 KiB).
DEFAULT_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExtensionRule:
    """A non-standard robots.txt line such as ``Content-Usage: /path train-ai=n``.

    ``path`` is the leading path when the value starts with ``/`` or ``*`` and ``/`` otherwise;
    ``value`` is the rest; ``line`` is the 1-based line number and ``raw`` the line as written.
    """

    path: str
    value: str
    line: int
    raw: str
