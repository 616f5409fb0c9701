"""The value converters of the run configuration's table (``crawler/config.py``'s ``_KEYS``).

Each takes a raw TOML value and returns the checked value, or raises ``TypeError`` /
``ValueError`` with a message that ``parse_config`` prefixes with ``[section] key``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filters import Mode, Purpose
from filters.urls import check_host

__all__ = [
    "REDACTABLE",
    "agents",
    "boolean",
    "cache_path",
    "check_redis_url",
    "check_worker_id",
    "enum",
    "hosts",
    "integer",
    "job",
    "keep_or_remove",
    "number",
    "on_error",
    "redact",
    "redis_url",
    "string",
    "strings",
]

#: Other crawlers' tokens in ``ai_agents``: the same grammar as RFC 9309 product tokens plus
#: digits, because real AI crawlers put digits in theirs (``AI2Bot`` in the bundled list,
#: ``img2dataset``). A space, an empty string or any other character can never name a
#: robots.txt group, so those are refused.
_AGENT_TOKEN = re.compile(r"[a-zA-Z0-9_-]+")
#: A job name or worker id becomes part of Redis keys and file names: a portable, slash-free set.
_JOB = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: No "-" in a worker id: part names end in ``-<worker_id>-<seq>``, read from the right.
_WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,47}")


def string(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def strings(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TypeError("expected a list of strings")
    return tuple(v)


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("expected true or false")
    return v


def agents(v: Any) -> tuple[str, ...]:
    tokens = strings(v)
    for token in tokens:
        if not _AGENT_TOKEN.fullmatch(token):
            raise ValueError(
                f"{token!r} is not a robots.txt product token (letters, digits, '_' or '-')"
            )
    return tokens


def cache_path(v: Any) -> str:
    """A file path (``~`` expanded), or ``""`` for no document cache."""
    text = string(v)
    if not text:
        return ""
    if not text.strip():
        raise ValueError('must name a file, or be "" for none')
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    try:
        return str(Path(text).expanduser())
    except RuntimeError as e:  # "~user" for an unknown user, or no home folder
        raise ValueError(f"cannot expand '~': {e}") from None


def hosts(v: Any) -> tuple[str, ...]:
    hosts = strings(v)
    for host in hosts:
        problem = check_host(host.lstrip(".")) if host.lstrip(".") else "empty host"
        if problem:
            raise ValueError(f"{host!r}: {problem}")
    return hosts


def integer(low: int, high: int) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("expected an integer")
        if not low <= v <= high:
            raise ValueError(f"must be from {low:,} to {high:,}")
        return v

    return conv


def number(low: float, high: float) -> Callable[[Any], float]:
    def conv(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError("expected a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if not low <= v <= high:  # compared exactly: a huge integer never overflows here
            raise ValueError(f"must be from {low:g} to {high:g}")
        return float(v)

    return conv


def enum(kind: type[Purpose] | type[Mode]) -> Callable[[Any], Any]:
    def conv(v: Any) -> Any:
        try:
            return kind(string(v))
        except ValueError:
            raise ValueError(f"must be one of {', '.join(m.value for m in kind)}") from None

    return conv


def redis_url(v: Any) -> str:
    """A Redis URL (``redis://``, ``rediss://`` or ``unix://``), or "" for the embedded mode."""
    return check_redis_url(string(v))


def check_redis_url(url: str) -> str:
    """``url`` if it is a usable Redis URL or ""; used for the config key and ``--redis``.

    Raises:
        ValueError: naming what is wrong.
    """
    if not url:
        return ""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("must not contain spaces or control characters")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("redis", "rediss", "unix"):
        raise ValueError("use redis://host:port/db, rediss://host:port/db or unix:///path")
    if scheme.lower() == "unix":
        if not rest.startswith("/") or not rest.strip("/"):
            raise ValueError("unix:// needs an absolute socket path")
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"not a usable URL: {e}") from None
    if not parts.hostname:
        raise ValueError("needs a host, e.g. redis://127.0.0.1:6379/0")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"the database must be a number (got {db!r})")
    del port
    return url


def job(v: Any) -> str:
    text = string(v)
    if not _JOB.fullmatch(text):
        raise ValueError("use 1-64 of [A-Za-z0-9._-], starting with a letter or digit")
    return text


def check_worker_id(text: str) -> str:
    """``text`` if it can name a worker (Redis keys, part file names).

    Raises:
        ValueError: naming what is allowed.
    """
    if not _WORKER_ID.fullmatch(text):
        raise ValueError("use 1-48 of [A-Za-z0-9_], starting with a letter or digit")
    return text


def on_error(v: Any) -> str:
    if v not in ("deny", "ignore"):
        raise ValueError('must be "deny" or "ignore"')
    return str(v)


#: What ``[privacy] redact`` can replace in a record's text.
REDACTABLE = ("email", "phone")


def redact(v: Any) -> tuple[str, ...]:
    kinds = strings(v)
    unknown = [k for k in kinds if k not in REDACTABLE]
    if unknown:
        raise ValueError(f"unknown {unknown[0]!r}; choose from {', '.join(REDACTABLE)}")
    return tuple(dict.fromkeys(kinds))


def keep_or_remove(v: Any) -> str:
    if v not in ("keep", "remove"):
        raise ValueError('must be "keep" or "remove"')
    return str(v)
