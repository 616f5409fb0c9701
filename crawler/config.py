"""Run configuration: TOML in, a validated ``RunConfig`` out (README "Config reference").

Every key is checked when the file is loaded; an unknown key, a wrong type or an out-of-range
value raises ``ConfigError`` naming ``[section] key`` and what is wrong, so a scheduled job
fails before it fetches anything rather than crawling with a half-applied policy.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filters import ConfigError, Mode, Purpose
from filters.blocklist import EMPTY_BLOCKLIST, Blocklist
from filters.engine import EngineConfig
from filters.license import DEFAULT_OPEN_LICENSES
from filters.robots import DEFAULT_MAX_BYTES, default_ai_agents
from filters.urls import check_host, check_url

__all__ = ["RunConfig", "load_config", "parse_config", "read_seeds"]

#: RFC 9309 §2.2.1 product tokens: ``[a-zA-Z_-]+``, for heed's own ``product_token``.
_TOKEN = re.compile(r"[a-zA-Z_-]+")
#: Other crawlers' tokens in ``ai_agents``: the same grammar plus digits, because real AI
#: crawlers put digits in theirs (``AI2Bot`` in the bundled list, ``img2dataset``). A space, an
#: empty string or any other character can never name a robots.txt group, so those are refused.
_AGENT_TOKEN = re.compile(r"[a-zA-Z0-9_-]+")
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything a crawl, a check or a re-check needs to know."""

    seeds: tuple[str, ...] = ()
    seeds_file: str | None = None
    out: str = "out"
    max_pages: int = 1000
    max_depth: int = 3
    allowed_hosts: tuple[str, ...] = ()
    product_token: str = "heedbot"
    user_agent: str = ""
    contact_url: str = ""
    purpose: Purpose = Purpose.TRAIN_AI
    mode: Mode = Mode.OPT_OUT
    on_signal_error: str = "deny"
    #: ``[policy] ai_agents`` as configured; None: the shipped list for ``purpose``.
    ai_agents_override: tuple[str, ...] | None = None
    #: The tokens the run evaluates (SPEC.md §3.2): ``ai_agents_override`` when set, else
    #: ``default_ai_agents(purpose)``; derived again whenever ``purpose`` changes.
    ai_agents: tuple[str, ...] = field(init=False)
    honor_noarchive: bool = False
    open_licenses: tuple[str, ...] = DEFAULT_OPEN_LICENSES
    blocklists: tuple[str, ...] = ()
    registry_url: str = ""
    registry_spawning: bool = False
    max_page_bytes: int = 10 * 1024 * 1024
    robots_max_bytes: int = DEFAULT_MAX_BYTES
    max_crawl_delay: float = 30.0
    download_timeout: float = 30.0
    signal_ttl: float = 24 * 3600.0
    allow_private_networks: bool = False
    concurrency: int = 16
    per_host_concurrency: int = 2
    autothrottle: bool = True
    document_cache: str = ""
    recheck_on_gone: str = "keep"
    recheck_on_unreachable: str = "keep"
    redact: tuple[str, ...] = ()
    keep_body: bool = True
    part_max_rows: int = 10_000
    row_group_rows: int = 100
    flush_interval: float = 30.0
    resume: bool = True
    source: str | None = None

    def __post_init__(self) -> None:
        agents = self.ai_agents_override
        object.__setattr__(
            self, "ai_agents", agents if agents is not None else default_ai_agents(self.purpose)
        )

    def engine(self, blocklist: Blocklist | None = None) -> EngineConfig:
        """The policy half, for ``filters.engine``; ``blocklist`` is the parsed
        ``[policy] blocklists`` (``crawler/blocklists.py`` reads them).

        Raises:
            ConfigError: blocklists are configured but none was given (an evaluator built
                without the operator's lists would request listed hosts).
        """
        if self.blocklists and blocklist is None:
            raise ConfigError("[policy] blocklists: configured but not loaded")
        return EngineConfig(
            product_token=self.product_token,
            purpose=self.purpose,
            mode=self.mode,
            on_signal_error="ignore" if self.on_signal_error == "ignore" else "deny",
            ai_agents=self.ai_agents,
            honor_noarchive=self.honor_noarchive,
            open_licenses=self.open_licenses,
            max_crawl_delay=self.max_crawl_delay,
            blocklist=blocklist if blocklist is not None else EMPTY_BLOCKLIST,
        )

    def with_overrides(self, **changes: Any) -> RunConfig:
        """A copy with command-line overrides applied (None values are ignored); an
        ``ai_agents`` override sets ``ai_agents_override``."""
        kept = {k: v for k, v in changes.items() if v is not None}
        if "ai_agents" in kept:
            kept["ai_agents_override"] = tuple(kept.pop("ai_agents"))
        return replace(self, **kept)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for ``run.json``."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = (
                list(value)
                if isinstance(value, tuple)
                else (value.value if isinstance(value, Purpose | Mode) else value)
            )
        return out


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("expected a string")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TypeError("expected a list of strings")
    return tuple(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("expected true or false")
    return v


def _agents(v: Any) -> tuple[str, ...]:
    tokens = _strs(v)
    for token in tokens:
        if not _AGENT_TOKEN.fullmatch(token):
            raise ValueError(
                f"{token!r} is not a robots.txt product token (letters, digits, '_' or '-')"
            )
    return tokens


def _cache_path(v: Any) -> str:
    """A file path (``~`` expanded), or ``""`` for no document cache."""
    text = _str(v)
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


def _hosts(v: Any) -> tuple[str, ...]:
    hosts = _strs(v)
    for host in hosts:
        problem = check_host(host.lstrip(".")) if host.lstrip(".") else "empty host"
        if problem:
            raise ValueError(f"{host!r}: {problem}")
    return hosts


def _int(low: int, high: int) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("expected an integer")
        if not low <= v <= high:
            raise ValueError(f"must be from {low:,} to {high:,}")
        return v

    return conv


def _num(low: float, high: float) -> Callable[[Any], float]:
    def conv(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError("expected a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        if not low <= v <= high:  # compared exactly: a huge integer never overflows here
            raise ValueError(f"must be from {low:g} to {high:g}")
        return float(v)

    return conv


def _enum(kind: type[Purpose] | type[Mode]) -> Callable[[Any], Any]:
    def conv(v: Any) -> Any:
        try:
            return kind(_str(v))
        except ValueError:
            raise ValueError(f"must be one of {', '.join(m.value for m in kind)}") from None

    return conv


def _on_error(v: Any) -> str:
    if v not in ("deny", "ignore"):
        raise ValueError('must be "deny" or "ignore"')
    return str(v)


#: What ``[privacy] redact`` can replace in a record's text.
REDACTABLE = ("email", "phone")


def _redact(v: Any) -> tuple[str, ...]:
    kinds = _strs(v)
    unknown = [k for k in kinds if k not in REDACTABLE]
    if unknown:
        raise ValueError(f"unknown {unknown[0]!r}; choose from {', '.join(REDACTABLE)}")
    return tuple(dict.fromkeys(kinds))


def _keep_or_remove(v: Any) -> str:
    if v not in ("keep", "remove"):
        raise ValueError('must be "keep" or "remove"')
    return str(v)


#: Upper bounds (README "Config reference", configs/example.toml). A value past one is a typo or
#: a unit mistake far more often than a plan, and each would exhaust memory, sockets or time.
MAX_PAGES = 1_000_000_000
#: Depth is stored as int16 in ``records/``; no site needs more hops than this.
MAX_DEPTH = 1000
DAY = 86_400.0

#: [section] key -> (RunConfig field, converter). This table is the config contract.
_KEYS: Mapping[str, Mapping[str, tuple[str, Callable[[Any], Any]]]] = {
    "crawl": {
        "seeds": ("seeds", _strs),
        "seeds_file": ("seeds_file", _str),
        "out": ("out", _str),
        "max_pages": ("max_pages", _int(1, MAX_PAGES)),
        "max_depth": ("max_depth", _int(0, MAX_DEPTH)),
        "allowed_hosts": ("allowed_hosts", _hosts),
    },
    "identity": {
        "product_token": ("product_token", _str),
        "user_agent": ("user_agent", _str),
        "contact_url": ("contact_url", _str),
    },
    "policy": {
        "purpose": ("purpose", _enum(Purpose)),
        "mode": ("mode", _enum(Mode)),
        "on_signal_error": ("on_signal_error", _on_error),
        "ai_agents": ("ai_agents_override", _agents),
        "honor_noarchive": ("honor_noarchive", _bool),
        "open_licenses": ("open_licenses", _strs),
        "blocklists": ("blocklists", _strs),
    },
    "registry": {
        "url": ("registry_url", _str),
        "spawning": ("registry_spawning", _bool),
    },
    "limits": {
        "max_page_bytes": ("max_page_bytes", _int(1024, 256 * _MIB)),
        "robots_max_bytes": ("robots_max_bytes", _int(500 * 1024, 64 * _MIB)),
        "max_crawl_delay": ("max_crawl_delay", _num(0, DAY)),
        "download_timeout": ("download_timeout", _num(0.1, 3600)),
        "signal_ttl": ("signal_ttl", _num(0, 30 * DAY)),
    },
    "network": {
        "allow_private_networks": ("allow_private_networks", _bool),
        "concurrency": ("concurrency", _int(1, 1024)),
        "per_host_concurrency": ("per_host_concurrency", _int(1, 64)),
        "autothrottle": ("autothrottle", _bool),
        "document_cache": ("document_cache", _cache_path),
    },
    "privacy": {
        "redact": ("redact", _redact),
        "keep_body": ("keep_body", _bool),
    },
    "recheck": {
        "on_gone": ("recheck_on_gone", _keep_or_remove),
        "on_unreachable": ("recheck_on_unreachable", _keep_or_remove),
    },
    "output": {
        "part_max_rows": ("part_max_rows", _int(1, 10_000_000)),
        "row_group_rows": ("row_group_rows", _int(1, 1_000_000)),
        "flush_interval": ("flush_interval", _num(0.1, DAY)),
        "resume": ("resume", _bool),
    },
}


def parse_config(data: Mapping[str, Any], *, source: str | None = None) -> RunConfig:
    """Validate a parsed TOML document into a ``RunConfig``.

    Raises:
        ConfigError: an unknown section or key, a wrong type, or an invalid value.
    """
    values: dict[str, Any] = {}
    for section, body in data.items():
        keys = _KEYS.get(section)
        if keys is None:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join(_KEYS)})")
        if not isinstance(body, Mapping):
            raise ConfigError(f"[{section}] must be a table")
        for key, raw in body.items():
            if key not in keys:
                raise ConfigError(f"[{section}] unknown key {key!r} (known: {', '.join(keys)})")
            name, conv = keys[key]
            try:
                values[name] = conv(raw)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"[{section}] {key}: {e} (got {raw!r})") from None
    return _check(RunConfig(**values, source=source))


def _check(cfg: RunConfig) -> RunConfig:
    token = cfg.product_token
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"[identity] product_token: {token!r} must be letters, '_' or '-' (RFC 9309 §2.2.1)"
        )
    for seed in cfg.seeds:
        _check_url(seed, "[crawl] seeds")
    _check_registry_url(cfg.registry_url)
    if not cfg.out.strip():
        raise ConfigError("[crawl] out: must name a folder")
    if any(not lic.strip() for lic in cfg.open_licenses):
        raise ConfigError("[policy] open_licenses: empty licence id")
    if cfg.per_host_concurrency > cfg.concurrency:
        raise ConfigError("[network] per_host_concurrency must not exceed concurrency")
    if cfg.contact_url:
        _check_url(cfg.contact_url, "[identity] contact_url")
    ua = cfg.user_agent
    if not ua:
        contact = cfg.contact_url
        if not contact:
            raise ConfigError(
                "[identity] set contact_url (a page saying who runs this crawler) or user_agent"
            )
        ua = f"Mozilla/5.0 (compatible; {token}/0.1; +{contact})"
        cfg = replace(cfg, user_agent=ua)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in ua):
        raise ConfigError("[identity] user_agent must not contain control characters")
    if token.lower() not in ua.lower():
        raise ConfigError("[identity] user_agent must contain the product_token")
    if "http" not in ua:
        raise ConfigError("[identity] user_agent must contain a contact URL")
    return cfg


def _check_url(url: str, where: str) -> None:
    problem = check_url(url)
    if problem:
        shown = url if len(url) <= 200 else url[:200] + "…"
        raise ConfigError(f"{where}: {shown!r} is not a usable absolute http(s) URL: {problem}")


def _check_registry_url(url: str) -> None:
    if not url:
        return
    if url.startswith("sqlite:///"):
        if not url[len("sqlite://") :].strip("/"):
            raise ConfigError("[registry] url: sqlite:/// needs a file path")
        return
    if url.startswith(("http://", "https://")):
        _check_url(url, "[registry] url")
        return
    raise ConfigError(
        "[registry] url: use sqlite:///path/to.db or http(s)://host:port (empty for none)"
    )


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, is not TOML, or fails validation.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config {p}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except ValueError as e:  # e.g. an integer past Python's 4,300-digit conversion limit
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{p}: not valid TOML: arrays or tables nested too deeply") from None
    cfg = parse_config(data, source=str(p))
    if cfg.seeds_file and not Path(cfg.seeds_file).is_absolute():
        cfg = replace(cfg, seeds_file=str(p.parent / cfg.seeds_file))
    if cfg.blocklists:  # files relative to the config's folder, like seeds_file; URLs as is
        cfg = replace(cfg, blocklists=tuple(_beside(p, s) for s in cfg.blocklists))
    return cfg


def _beside(config: Path, source: str) -> str:
    if source.lower().startswith(("http://", "https://")) or Path(source).is_absolute():
        return source
    return str(config.parent / source)


def read_seeds(path: str | Path) -> tuple[str, ...]:
    """Seed URLs from a file: one per line; blank lines and ``#`` comments are skipped.

    Raises:
        ConfigError: the file cannot be read, or a line is not an absolute http(s) URL (the
            message gives the line number).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read seeds file {p}: {e}") from None
    seeds: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        _check_url(text, f"{p}:{n}")
        seeds.append(text)
    return tuple(seeds)
