"""The shipped list of AI crawler tokens, by what each crawler does (SPEC.md §3.2).

``filters/data/ai_agents.json`` is built from the community list of AI crawler tokens
(ai-robots-txt ``robots.json``; its ``source``, ``retrieved`` date and ``notes`` say which copy
and how it was read). Each token carries one or more functions: ``training`` (collects data to
train models), ``ai-input`` (assistants, agents, RAG and AI-search indexes, user-triggered
fetches) and ``search``. A run's default ``ai_agents`` is the tokens of its purpose:
``train-ai`` the training tokens, ``ai-input`` the AI-input tokens, ``search`` none (the
``robots.ai-agent`` signal applies to the two AI purposes only). The 14 tokens SPEC.md §3.2
names always stay in the training set, first and in the SPEC's order, whatever the file says.

Tokens that differ only in case are one token: the file must not repeat one, so a run never
evaluates one twice. Such a file is refused like any other malformed one, with
``ConfigError``: a run never starts on a list heed cannot read. The file is package data,
read once with ``importlib.resources`` (``filters/`` opens no files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .errors import ConfigError
from .model import Purpose

__all__ = [
    "CONFIGURED_SOURCE",
    "FUNCTIONS",
    "SPEC_TRAINING_TOKENS",
    "AgentList",
    "AgentToken",
    "agents_provenance",
    "parse_agent_list",
    "shipped_agent_list",
]

#: The functions a token may have, in the order they are written.
FUNCTIONS = ("training", "ai-input", "search")

#: SPEC.md §3.2: always in the training set, in this order.
SPEC_TRAINING_TOKENS = (
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
)

#: Which function feeds which purpose's default list (``search`` feeds none: SPEC.md §3.2).
_PURPOSE_FUNCTION = {Purpose.TRAIN_AI: "training", Purpose.AI_INPUT: "ai-input"}

#: A token as a ``User-agent`` line names it once cut at the first space (SPEC.md §3.1):
#: letters, digits, ``_``, ``-`` and ``.`` (``bigsur.ai``, ``panscient.com`` in the list).
_NAME = re.compile(r"[A-Za-z0-9_.-]+")

_DATA = "data/ai_agents.json"


@dataclass(frozen=True, slots=True)
class AgentToken:
    """One crawler token: its robots.txt ``name``, ``functions``, ``operator`` and ``source``
    (the reference the community list gives for it)."""

    name: str
    functions: tuple[str, ...]
    operator: str | None
    source: str


@dataclass(frozen=True, slots=True)
class AgentList:
    """The list with its provenance (``source`` URL, ``retrieved`` date)."""

    source: str
    retrieved: str
    tokens: tuple[AgentToken, ...]

    def for_function(self, function: str) -> tuple[str, ...]:
        """The names of the tokens with ``function``, in file order; for ``training`` the
        SPEC.md §3.2 tokens come first, in the SPEC's order, present or not in the file."""
        if function not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; one of {', '.join(FUNCTIONS)}")
        names = [t.name for t in self.tokens if function in t.functions]
        if function != "training":
            return tuple(names)
        spec = {n.lower() for n in SPEC_TRAINING_TOKENS}
        return (*SPEC_TRAINING_TOKENS, *(n for n in names if n.lower() not in spec))

    def for_purpose(self, purpose: Purpose) -> tuple[str, ...]:
        """The default ``ai_agents`` of a run for ``purpose`` (none for ``search``)."""
        function = _PURPOSE_FUNCTION.get(purpose)
        return self.for_function(function) if function is not None else ()


def _text(entry: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = entry.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key!r} must be a non-empty string (got {value!r})")
    return value


def _token(entry: Any, where: str) -> AgentToken:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: a token must be an object")
    name = _text(entry, "name", where)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: {name!r} is not a robots.txt product token")
    functions = entry.get("function")
    if (
        not isinstance(functions, list)
        or not functions
        or any(f not in FUNCTIONS for f in functions)
        or len(set(functions)) != len(functions)
    ):
        raise ConfigError(
            f"{where} ({name}): 'function' must list one or more of {', '.join(FUNCTIONS)}"
            f" once each (got {functions!r})"
        )
    return AgentToken(
        name=name,
        functions=tuple(f for f in FUNCTIONS if f in functions),
        operator=_text(entry, "operator", where, optional=True),
        source=_text(entry, "source", where),
    )


def parse_agent_list(text: str) -> AgentList:
    """Read an agent list document (the JSON of ``filters/data/ai_agents.json``).

    Raises:
        ConfigError: not JSON, a missing or mistyped field, an unknown function, or two
            tokens that differ only in case.
    """
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"not JSON: {e}") from None
    if not isinstance(doc, Mapping):
        raise ConfigError("the list must be a JSON object")
    source = _text(doc, "source", "list")
    retrieved = _text(doc, "retrieved", "list")
    entries = doc.get("tokens")
    if not isinstance(entries, list):
        raise ConfigError("list: 'tokens' must be an array")
    tokens = tuple(_token(e, f"tokens[{i}]") for i, e in enumerate(entries))
    seen: dict[str, str] = {}
    for t in tokens:
        other = seen.get(t.name.lower())
        if other is not None:
            raise ConfigError(f"{t.name!r} repeats {other!r} (case aside): one token")
        seen[t.name.lower()] = t.name
    return AgentList(source=source, retrieved=retrieved, tokens=tokens)


@cache
def shipped_agent_list() -> AgentList:
    """The list heed ships (``filters/data/ai_agents.json``), read once."""
    text = resources.files("filters").joinpath(_DATA).read_text(encoding="utf-8")
    try:
        return parse_agent_list(text)
    except ConfigError as e:
        raise ConfigError(f"filters/{_DATA}: {e}") from None


#: ``agents_provenance``'s ``source`` when the run's configuration set the list.
CONFIGURED_SOURCE = "[policy] ai_agents"


def agents_provenance(
    purpose: Purpose, agents: tuple[str, ...], *, configured: bool
) -> dict[str, Any]:
    """Where a run's ``ai_agents`` came from, for ``run.json`` (``ai_agents_source``).

    ``source`` is the shipped list's URL and ``retrieved`` its date, or ``[policy] ai_agents``
    and None when the configuration replaced the list; ``purpose`` the run's; ``count`` the
    number of tokens evaluated.
    """
    shipped = None if configured else shipped_agent_list()
    return {
        "source": shipped.source if shipped is not None else CONFIGURED_SOURCE,
        "retrieved": shipped.retrieved if shipped is not None else None,
        "purpose": purpose.value,
        "count": len(agents),
    }
