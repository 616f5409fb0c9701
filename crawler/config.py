"""Run configuration: TOML in, a validated ``RunConfig`` out (README "Config reference").

Every key is checked when the file is loaded; an unknown key, a wrong type or an out-of-range
value raises ``ConfigError`` naming ``[section] key`` and what is wrong, so a scheduled job
fails before it fetches anything rather than crawling with a half-applied policy.
"""

from __future__ import annotations

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
from filters.urls import check_url

from . import _config_values as v
from ._config_values import REDACTABLE, check_redis_url, check_worker_id

__all__ = [
    "REDACTABLE",
    "RunConfig",
    "check_redis_url",
    "check_worker_id",
    "collect_seeds",
    "load_config",
    "parse_config",
    "read_seeds",
]

#: RFC 9309 §2.2.1 product tokens: ``[a-zA-Z_-]+``, for heed's own ``product_token``.
_TOKEN = re.compile(r"[a-zA-Z_-]+")
_MIB = 1024 * 1024
_JOB_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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
    #: ``[distributed] redis_url``: empty for the embedded single-process mode (the default).
    redis_url: str = ""
    #: ``[distributed] job``: the job every process of this config joins; "" for the output
    #: folder's name (see :attr:`job_name`).
    job: str = ""
    #: This process's worker id in a distributed job (``--worker-id``; not a config key).
    worker_id: str = ""
    source: str | None = None

    def __post_init__(self) -> None:
        agents = self.ai_agents_override
        object.__setattr__(
            self, "ai_agents", agents if agents is not None else default_ai_agents(self.purpose)
        )

    @property
    def distributed(self) -> bool:
        """True when the crawl runs on Redis (``[distributed] redis_url`` or ``--redis``)."""
        return bool(self.redis_url)

    @property
    def job_name(self) -> str:
        """The job's name: ``[distributed] job``, else the output folder's own name (cleaned
        to ``[A-Za-z0-9._-]``), so every process started with the same config joins one job."""
        if self.job:
            return self.job
        name = _JOB_UNSAFE.sub("-", Path(self.out).name).strip(".-")
        return name[:64] or "heed"

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
        out["redis_url"] = _without_password(self.redis_url)  # run.json is published data
        return out


def _without_password(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


#: Upper bounds (README "Config reference", configs/example.toml). A value past one is a typo or
#: a unit mistake far more often than a plan, and each would exhaust memory, sockets or time.
MAX_PAGES = 1_000_000_000
#: Depth is stored as int16 in ``records/``; no site needs more hops than this.
MAX_DEPTH = 1000
DAY = 86_400.0

#: [section] key -> (RunConfig field, converter). This table is the config contract.
_KEYS: Mapping[str, Mapping[str, tuple[str, Callable[[Any], Any]]]] = {
    "crawl": {
        "seeds": ("seeds", v.strings),
        "seeds_file": ("seeds_file", v.string),
        "out": ("out", v.string),
        "max_pages": ("max_pages", v.integer(1, MAX_PAGES)),
        "max_depth": ("max_depth", v.integer(0, MAX_DEPTH)),
        "allowed_hosts": ("allowed_hosts", v.hosts),
    },
    "identity": {
        "product_token": ("product_token", v.string),
        "user_agent": ("user_agent", v.string),
        "contact_url": ("contact_url", v.string),
    },
    "policy": {
        "purpose": ("purpose", v.enum(Purpose)),
        "mode": ("mode", v.enum(Mode)),
        "on_signal_error": ("on_signal_error", v.on_error),
        "ai_agents": ("ai_agents_override", v.agents),
        "honor_noarchive": ("honor_noarchive", v.boolean),
        "open_licenses": ("open_licenses", v.strings),
        "blocklists": ("blocklists", v.strings),
    },
    "registry": {
        "url": ("registry_url", v.string),
        "spawning": ("registry_spawning", v.boolean),
    },
    "limits": {
        "max_page_bytes": ("max_page_bytes", v.integer(1024, 256 * _MIB)),
        "robots_max_bytes": ("robots_max_bytes", v.integer(500 * 1024, 64 * _MIB)),
        "max_crawl_delay": ("max_crawl_delay", v.number(0, DAY)),
        "download_timeout": ("download_timeout", v.number(0.1, 3600)),
        "signal_ttl": ("signal_ttl", v.number(0, 30 * DAY)),
    },
    "network": {
        "allow_private_networks": ("allow_private_networks", v.boolean),
        "concurrency": ("concurrency", v.integer(1, 1024)),
        "per_host_concurrency": ("per_host_concurrency", v.integer(1, 64)),
        "autothrottle": ("autothrottle", v.boolean),
        "document_cache": ("document_cache", v.cache_path),
    },
    "privacy": {
        "redact": ("redact", v.redact),
        "keep_body": ("keep_body", v.boolean),
    },
    "recheck": {
        "on_gone": ("recheck_on_gone", v.keep_or_remove),
        "on_unreachable": ("recheck_on_unreachable", v.keep_or_remove),
    },
    "output": {
        "part_max_rows": ("part_max_rows", v.integer(1, 10_000_000)),
        "row_group_rows": ("row_group_rows", v.integer(1, 1_000_000)),
        "flush_interval": ("flush_interval", v.number(0.1, DAY)),
        "resume": ("resume", v.boolean),
    },
    "distributed": {
        "redis_url": ("redis_url", v.redis_url),
        "job": ("job", v.job),
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


def collect_seeds(cfg: RunConfig, seeds_file: str | None = None) -> tuple[str, ...]:
    """Seeds from the config and the seeds file, in order, deduplicated.

    Raises:
        ConfigError: no seeds at all, or an unreadable or invalid seeds file.
    """
    seeds = list(cfg.seeds)
    path = seeds_file or cfg.seeds_file
    if path:
        seeds.extend(read_seeds(path))
    if not seeds:
        raise ConfigError("no seeds: set [crawl] seeds or seeds_file, or pass --seeds FILE")
    return tuple(dict.fromkeys(seeds))
