"""Reason codes: the stable vocabulary of every verdict (SPEC.md §5).

These strings are part of the Parquet schema, the audit logs and what site owners read in
``heed check``; renaming one is a breaking change. The members equal SPEC.md §5 exactly; the
``x-robots-tag.<directive>`` and ``meta-robots.<directive>`` families are spelled out for every
directive heed understands, so no code is ever built at run time.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DIRECTIVES", "ReasonCode", "directive_reason"]


class ReasonCode(StrEnum):
    """A stable, dotted reason code (SPEC.md §5)."""

    ROBOTS_DISALLOW = "robots.disallow"
    ROBOTS_UNREACHABLE = "robots.unreachable"
    ROBOTS_AI_AGENT = "robots.ai-agent"
    AIPREF_DISALLOW = "aipref.disallow"
    AIPREF_PARSE_ERROR = "aipref.parse-error"
    CONTENT_SIGNAL_DISALLOW = "content-signal.disallow"
    AITXT_DISALLOW = "aitxt.disallow"
    AITXT_UNREACHABLE = "aitxt.unreachable"
    TDMREP_RESERVED = "tdmrep.reserved"
    TDMREP_UNREACHABLE = "tdmrep.unreachable"
    TDMREP_INVALID = "tdmrep.invalid"
    REGISTRY_OPT_OUT = "registry.opt-out"
    REGISTRY_UNAVAILABLE = "registry.unavailable"
    RSL_PROHIBITED = "rsl.prohibited"
    RSL_LICENSE_REQUIRED = "rsl.license-required"
    RSL_UNREACHABLE = "rsl.unreachable"
    RSL_INVALID = "rsl.invalid"
    X_ROBOTS_TAG_NOAI = "x-robots-tag.noai"
    X_ROBOTS_TAG_NOML = "x-robots-tag.noml"
    X_ROBOTS_TAG_NOIMAGEAI = "x-robots-tag.noimageai"
    X_ROBOTS_TAG_NOINDEX = "x-robots-tag.noindex"
    X_ROBOTS_TAG_NONE = "x-robots-tag.none"
    X_ROBOTS_TAG_NOARCHIVE = "x-robots-tag.noarchive"
    X_ROBOTS_TAG_NOCACHE = "x-robots-tag.nocache"
    META_ROBOTS_NOAI = "meta-robots.noai"
    META_ROBOTS_NOML = "meta-robots.noml"
    META_ROBOTS_NOIMAGEAI = "meta-robots.noimageai"
    META_ROBOTS_NOINDEX = "meta-robots.noindex"
    META_ROBOTS_NONE = "meta-robots.none"
    META_ROBOTS_NOARCHIVE = "meta-robots.noarchive"
    META_ROBOTS_NOCACHE = "meta-robots.nocache"
    CONSENT_MISSING = "consent.missing"
    LICENSE_NOT_OPEN = "license.not-open"
    POLITENESS_CRAWL_DELAY_TOO_LONG = "politeness.crawl-delay-too-long"
    FETCH_STATUS = "fetch.status"
    FETCH_ERROR = "fetch.error"
    FETCH_TOO_LARGE = "fetch.too-large"
    FETCH_REDIRECT_LIMIT = "fetch.redirect-limit"
    FETCH_BLOCKED_ADDRESS = "fetch.blocked-address"
    FETCH_UNSUPPORTED_TYPE = "fetch.unsupported-type"
    FETCH_INVALID_URL = "fetch.invalid-url"
    BLOCKLIST_LISTED = "blocklist.listed"
    HTML_UNPARSEABLE = "html.unparseable"


#: Directives of X-Robots-Tag / meta robots that heed records (SPEC.md §3.7).
DIRECTIVES: tuple[str, ...] = (
    "noai",
    "noml",
    "noimageai",
    "noindex",
    "none",
    "noarchive",
    "nocache",
)

_DIRECTIVE_REASONS: dict[tuple[str, str], ReasonCode] = {
    (family, directive): ReasonCode(f"{family}.{directive}")
    for family in ("x-robots-tag", "meta-robots")
    for directive in DIRECTIVES
}


def directive_reason(family: str, directive: str) -> ReasonCode:
    """Return the reason code for a directive of ``x-robots-tag`` or ``meta-robots``.

    Raises:
        KeyError: the family or directive is not one of SPEC.md §3.7's.
    """
    return _DIRECTIVE_REASONS[(family, directive)]
