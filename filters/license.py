"""The licence tag of a record: Creative Commons URLs to SPDX ids, and the choice (SPEC.md §4).

A page can declare its licence in several places (HTML ``rel=license``, an HTTP ``Link``,
JSON-LD, ``dcterms.license``, the consent registry). The HTML/HTTP extractors collect the
candidate URLs; this module turns each into a ``LicenseTag`` and picks one per record.

``normalize(url)`` maps a creativecommons.org URL to its SPDX id whatever its spelling
(http/https, ``www.``, query, fragment, ``deed.xx``, ``legalcode[.xx]``, trailing ``/``).
The table of SPDX's Creative Commons ids lives in ``data/cc_licenses.json``. Choices where
SPEC.md is silent (all conservative, documented in docs/signals-documents.md):

- A ported licence that SPDX lists keeps SPDX's id (``CC-BY-3.0-DE``, ``CC-BY-SA-2.0-UK``);
  one SPDX lacks becomes ``LicenseRef-CC-BY-SA-3.0-ES`` (family, version, port upper-cased).
  CC families SPDX lacks (``nc``, ``nd-nc``, ``sampling+`` ...) use the same LicenseRef form.
  ``/licenses/publicdomain/`` is SPDX's ``CC-PDDC``. Any other URL, including a
  creativecommons.org URL this table cannot read, is ``LicenseRef-url`` and keeps its URL.
- Restrictiveness (for conflicts) ranks a ported or LicenseRef-CC id by its family, so
  ``LicenseRef-CC-BY-SA-3.0-ES`` ranks with BY-SA; every id that is not Creative Commons
  (``LicenseRef-url``, ``MIT`` from a registry) ranks as LicenseRef, the most restrictive.
  Between different ids of equal rank the more trusted candidate wins.
- A registry entry may give an SPDX id instead of a URL: ``choose`` accepts both. Text that
  is neither an http(s) URL nor a well-formed SPDX id is not a candidate.
- ``is_open`` patterns: ``*`` stands for a version and optional port, i.e. it matches text that
  *starts with a digit*. So ``CC-BY-*`` matches ``CC-BY-4.0`` and ``CC-BY-3.0-DE`` but never
  ``CC-BY-NC-4.0``, ``CC-BY-ND-4.0`` or ``CC-BY-SA-4.0`` (SPEC.md §1 lists BY and BY-SA
  separately). A pattern ``CC-…`` also matches the ``LicenseRef-CC-…`` form of a port SPDX
  lacks (the same licence, adapted to a jurisdiction). The lone pattern ``*`` matches every id.
  Matching is ASCII case-insensitive, as SPDX ids are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Final
from urllib.parse import urlsplit

from .model import LicenseInfo, LicenseTag

__all__ = [
    "DEFAULT_OPEN_LICENSES",
    "LICENSE_REF_URL",
    "choose",
    "is_open",
    "normalize",
    "normalize_id",
    "restrictiveness",
]

#: SPEC.md §1: the default open set for ``mode = open-license``.
DEFAULT_OPEN_LICENSES: Final[tuple[str, ...]] = ("CC0-1.0", "CC-PDM-1.0", "CC-BY-*", "CC-BY-SA-*")

#: SPEC.md §4: the id of any licence URL that is not a recognised Creative Commons licence.
LICENSE_REF_URL: Final = LicenseTag("LicenseRef-url")

_DATA = json.loads(
    resources.files("filters").joinpath("data/cc_licenses.json").read_text(encoding="utf-8")
)
_SPDX_CC: Final[dict[str, str]] = {i.upper(): i for i in _DATA["spdx_ids"]}
_FAMILIES: Final[dict[str, str]] = _DATA["families"]
_PUBLIC_DOMAIN: Final[dict[str, str]] = _DATA["public_domain"]
_RANK: Final[dict[str, int]] = _DATA["restrictiveness"]
_RANK_DEFAULT: Final[int] = _DATA["default_restrictiveness"]

_CC_HOSTS = frozenset({"creativecommons.org", "www.creativecommons.org"})
_VERSION = re.compile(r"^\d+(?:\.\d+)*$")
_PORT = re.compile(r"^[a-z]{2,10}$")
# deed.xx / legalcode.xx / legalcode.txt / index.html trail a licence path.
_TRAILER = re.compile(r"^(?:deed|legalcode|index)(?:\.[a-z0-9_\-]+)*$")
_SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-+]{0,99}$")
_LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.\-]{1,100}$", re.IGNORECASE)
_FAMILY_OF = re.compile(r"^(?:licenseref-)?cc-((?:by|sa|nd|nc)(?:-(?:sa|nd|nc))*)-\d", re.I)


def _tag(family: str, version: str, port: str | None) -> LicenseTag:
    base = f"CC-{family}-{version}" + (f"-{port.upper()}" if port else "")
    known = _SPDX_CC.get(base.upper())
    return LicenseTag(known if known else f"LicenseRef-{base}")


def _cc_path(parts: list[str]) -> LicenseTag | None:
    """The tag for the path segments of a creativecommons.org URL, or None if unreadable."""
    while parts and _TRAILER.match(parts[-1]):
        parts = parts[:-1]
    if parts == ["licenses", "publicdomain"]:
        return _tag_exact("CC-PDDC")
    if len(parts) not in (3, 4) or not _VERSION.match(parts[2]):
        return None
    kind, name, version = parts[0], parts[1], parts[2]
    port = parts[3] if len(parts) == 4 else None
    if port is not None and not _PORT.match(port):
        return None
    if kind == "publicdomain" and name in _PUBLIC_DOMAIN and port is None:
        return _tag_exact(f"{_PUBLIC_DOMAIN[name]}-{version}")
    if kind == "licenses" and name in _FAMILIES:
        return _tag(_FAMILIES[name], version, port)
    return None


def _tag_exact(spdx: str) -> LicenseTag:
    known = _SPDX_CC.get(spdx.upper())
    return LicenseTag(known if known else f"LicenseRef-{spdx}")


def normalize(url: str) -> LicenseTag:
    """The SPDX id (or ``LicenseRef-…``) of licence URL ``url``; never raises.

    Creative Commons URLs in any spelling map to SPDX ids (``CC-BY-4.0``, ``CC0-1.0``,
    ``CC-PDM-1.0``); ports SPDX lacks map to ``LicenseRef-CC-…``; anything else is
    ``LicenseRef-url``.
    """
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return LICENSE_REF_URL
    if parts.scheme.lower() not in ("http", "https") or host not in _CC_HOSTS:
        return LICENSE_REF_URL
    segments = [s for s in parts.path.lower().split("/") if s]
    return _cc_path(segments) or LICENSE_REF_URL


def normalize_id(text: str) -> LicenseTag | None:
    """``text`` as a licence id when it is a well-formed SPDX-style id, else None.

    Creative Commons ids are returned in SPDX's spelling (``cc-by-4.0`` → ``CC-BY-4.0``);
    other ids (``MIT``, ``LicenseRef-acme``) are kept as written. Used for registry entries,
    whose licence may be an id rather than a URL.
    """
    value = text.strip()
    known = _SPDX_CC.get(value.upper())
    if known:
        return LicenseTag(known)
    if _LICENSE_REF.match(value):
        return LicenseTag("LicenseRef-" + value[len("LicenseRef-") :])
    if _SPDX_ID.match(value) and not value.lower().startswith("licenseref"):
        return LicenseTag(value)
    return None


def restrictiveness(tag: str) -> int:
    """SPEC.md §4's order: CC0/PDM 0 < BY < BY-SA < BY-ND < BY-NC < BY-NC-SA < BY-NC-ND 6 <
    anything else (LicenseRef, non-CC ids) 7."""
    upper = tag.upper()
    if upper.startswith("CC0-"):
        return _RANK["CC0"]
    if upper.startswith("CC-PDM-") or upper == "CC-PDDC":
        return _RANK["PDM"]
    match = _FAMILY_OF.match(tag)
    if match:
        return _RANK.get(match.group(1).upper(), _RANK_DEFAULT)
    return _RANK_DEFAULT


def _is_url(text: str) -> bool:
    return "://" in text or text.startswith("//")


def _candidate_tag(text: str) -> LicenseTag | None:
    return normalize(text) if _is_url(text) else normalize_id(text)


def choose(candidates: Sequence[tuple[str, str]]) -> LicenseInfo:
    """Pick the record's licence from ``(url_or_id, source)`` pairs in trust order.

    No usable candidate gives ``LicenseInfo(None)``. One distinct id gives that id with the
    URL and source of its most trusted candidate. Several different ids give the most
    restrictive one (SPEC.md §4) and ``conflict=True``. ``candidates`` of the result holds
    ``(id, text, source)`` for every usable candidate, as evidence. ``url`` is None when the
    chosen candidate was an id (a registry licence) rather than a URL.
    """
    seen: list[tuple[LicenseTag, str, str]] = []
    for text, source in candidates:
        stripped = text.strip()
        tag = _candidate_tag(stripped)
        if tag is not None:
            seen.append((tag, stripped, source))
    if not seen:
        return LicenseInfo(None)
    best = seen[0]
    for item in seen[1:]:
        if restrictiveness(item[0]) > restrictiveness(best[0]):
            best = item
    tag, text, source = best
    return LicenseInfo(
        license=tag,
        url=text if _is_url(text) else None,
        source=source,
        conflict=len({t for t, _, _ in seen}) > 1,
        candidates=tuple((str(t), x, s) for t, x, s in seen),
    )


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    if pattern.strip() == "*":
        return re.compile(r"^.*$", re.DOTALL)
    pieces = [re.escape(p) for p in pattern.strip().split("*")]
    body = r"[0-9][A-Za-z0-9.\-+]*".join(pieces)
    if pattern.strip().upper().startswith("CC-"):
        body = r"(?:LicenseRef-)?" + body
    return re.compile(f"^{body}$", re.IGNORECASE)


def is_open(tag: LicenseTag | None, open_set: Sequence[str] = DEFAULT_OPEN_LICENSES) -> bool:
    """Whether ``tag`` is in ``open_set`` (ids or ``*`` patterns, see the module docstring)."""
    if tag is None:
        return False
    return any(_glob(pattern).match(tag) for pattern in open_set if pattern.strip())
