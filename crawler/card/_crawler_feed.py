"""The crawler page's versions file (``crawler.versions.json``) and its Atom feed (RFC 4287).

A version is recorded with its SHA-256, date, what changed against the previous one, and the
facts of the page; ``read_state`` refuses a file that is not heed's or is damaged
(``ConfigError``), so it is never overwritten then. XML text is escaped by ``xml.etree``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from filters import ConfigError

from ._crawler_facts import CrawlerFacts

__all__ = ["STATE_FORMAT", "atom_feed", "changes", "read_state"]

STATE_FORMAT = 1
_ATOM_NS = "http://www.w3.org/2005/Atom"


def read_state(path: Path) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ConfigError(
            f"{path} is not valid JSON ({e}); move it aside to start the feed over"
        ) from None
    if not isinstance(data, dict):
        data = {}
    versions = data.get("versions")
    if data.get("format") != STATE_FORMAT or not isinstance(versions, list):
        raise ConfigError(f"{path} is not a heed crawler-page state file (format {STATE_FORMAT})")
    for n, v in enumerate(versions, 1):
        ok = (
            isinstance(v, dict)
            and isinstance(v.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", v["sha256"]) is not None
            and isinstance(v.get("updated"), str)
            and _parse_time(v["updated"]) is not None
            and isinstance(v.get("changes"), list)
            and all(isinstance(c, str) for c in v["changes"])
            and isinstance(v.get("facts"), dict)
        )
        if not ok:
            raise ConfigError(f"{path}: version {n} is damaged (sha256, updated, changes, facts)")
    return versions


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def changes(old: Mapping[str, Any] | None, new: CrawlerFacts) -> list[str]:
    if old is None:
        return ["First version of this page."]
    labels = {
        "product_token": "product token",
        "user_agent": "user-agent",
        "contact_url": "contact URL",
        "purposes": "purposes",
        "modes": "mode",
        "ai_agents": "AI crawler tokens honoured",
        "honor_noarchive": "noarchive honoured",
        "registry_url": "consent registry",
        "registry_private": "private consent registry",
        "registry_spawning": "Spawning registry consulted",
        "blocklists": "blocklists",
        "private_blocklists": "private blocklists",
        "engine_versions": "heed version",
    }
    out = []
    for key, value in new.as_dict().items():
        before = old.get(key)
        if before == value:
            continue
        label = labels.get(key, key)
        if isinstance(value, list) and isinstance(before, list):
            added = [x for x in value if x not in before]
            removed = [x for x in before if x not in value]
            bits = ([f"added {', '.join(map(str, added))}"] if added else []) + (
                [f"removed {', '.join(map(str, removed))}"] if removed else []
            )
            out.append(f"{label}: {'; '.join(bits) or 'reordered'}")
        else:
            out.append(f"{label}: {_show(before)} → {_show(value)}")
    return out or ["The page's wording changed."]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if value in ("", None):
        return "none"
    return str(value)


def _uuid_urn(text: str) -> str:
    return uuid.UUID(bytes=hashlib.sha256(text.encode("utf-8")).digest()[:16], version=5).urn


def atom_feed(facts: CrawlerFacts, versions: Sequence[Mapping[str, Any]]) -> bytes:
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, tag, attrs)
        if text is not None:
            el.text = text
        return el

    token = facts.product_token
    # Plain names with an xmlns attribute: ET's own prefixes (ns0:) are valid but unkind.
    feed = ET.Element("feed", {"xmlns": _ATOM_NS})
    sub(feed, "id", _uuid_urn(f"heed crawler page {token.lower()}"))
    sub(feed, "title", f"{token}: changes to the crawler information page")
    sub(feed, "updated", versions[-1]["updated"])
    author = sub(feed, "author")
    sub(author, "name", f"The operator of {token}")
    if facts.contact_url:
        sub(author, "uri", facts.contact_url)
        sub(feed, "link", rel="alternate", type="text/html", href=facts.contact_url)
    generator = sub(feed, "generator", "heed")
    if facts.engine_versions:
        generator.set("version", facts.engine_versions[-1])
    for n, v in reversed(list(enumerate(versions, 1))):
        entry = sub(feed, "entry")
        sub(entry, "id", _uuid_urn(f"heed crawler page {token.lower()} {v['sha256']}"))
        sub(entry, "title", f"Version {n} of the crawler page")
        sub(entry, "updated", v["updated"])
        if facts.contact_url:
            sub(entry, "link", rel="alternate", type="text/html", href=facts.contact_url)
        sub(entry, "summary", " ".join(v["changes"]), type="text")
        content = sub(entry, "content", type="xhtml")
        div = ET.SubElement(content, "div", {"xmlns": "http://www.w3.org/1999/xhtml"})
        ul = ET.SubElement(div, "ul")
        for change in v["changes"]:
            ET.SubElement(ul, "li").text = change
        ET.SubElement(div, "p").text = f"sha256 {v['sha256']}"
    body = ET.tostring(feed, encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body.encode("utf-8") + b"\n"
