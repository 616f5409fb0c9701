"""The crawler information page and its Atom feed (``crawler/card/crawler_page.py``).

The runs are described by real ``run.json`` content: a ``RunConfig`` parsed from TOML-like
tables, as ``crawler/context.py`` writes it. The page is parsed back with html5lib (a
browser's parser), the feed with ``xml.etree``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import html5lib
import pytest

from crawler.card.crawler_page import (
    ATOM_NAME,
    PAGE_NAME,
    STANDARDS,
    STATE_NAME,
    facts_from_runs,
    write_crawler_page,
)
from crawler.config import parse_config
from filters import ConfigError

A = "{http://www.w3.org/2005/Atom}"
XHTML = "{http://www.w3.org/1999/xhtml}"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
T2 = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def run_info(crawl_id: str = "run1", **sections: dict[str, Any]) -> dict[str, Any]:
    """A run.json as ``RunContext.run_info`` writes it, from config tables."""
    tables: dict[str, dict[str, Any]] = {
        "identity": {"contact_url": "https://bot.example.org/about"},
        "crawl": {"seeds": ["https://example.org/"]},
    }
    for name, table in sections.items():
        tables.setdefault(name, {}).update(table)
    cfg = parse_config(tables)
    return {
        "crawl_id": crawl_id,
        "engine_version": "0.1.0",
        "config": cfg.as_dict(),
        "ai_agents": list(cfg.ai_agents),
        "purpose": cfg.purpose.value,
        "mode": cfg.mode.value,
        "counts": {"considered": 3, "kept": 2, "excluded": 1},
    }


def page_tree(path: Path) -> Any:
    return html5lib.parse(path.read_bytes(), treebuilder="etree", namespaceHTMLElements=False)


def text_of(el: Any) -> str:
    return "".join(el.itertext())


def feed_of(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == f"{A}feed"
    return root


def test_page_says_who_the_crawler_is_what_it_honours_and_how_to_opt_out(tmp_path: Path) -> None:
    info = run_info(
        identity={"product_token": "examplebot"},
        registry={"url": "https://registry.example.net"},
        policy={"blocklists": ["https://lists.example.net/infringing.txt", "/etc/heed/private"]},
    )
    result = write_crawler_page([info], tmp_path, now=T0)
    assert result.page == tmp_path / PAGE_NAME and result.new_version and result.versions == 1

    root = page_tree(result.page)
    text = text_of(root)
    assert root.find(".//code[@id='product-token']").text == "examplebot"
    assert text_of(root.find(".//code[@id='user-agent']")) == info["config"]["user_agent"]
    contact = root.find(".//td[@id='contact']/a")
    assert contact.get("href") == "https://bot.example.org/about"
    # every standard that speaks to train-ai, linked
    links = {a.get("href") for a in root.iter("a")}
    for std in STANDARDS:
        assert std.url in links, std.name
    pres = [text_of(p) for p in root.iter("pre")]
    assert "User-agent: examplebot\nDisallow: /" in pres
    assert any("Content-Usage: train-ai=n" in p for p in pres)
    assert any('[{"location": "/", "tdm-reservation": 1}]' in p for p in pres)
    assert any("X-Robots-Tag: noai" in p for p in pres)
    assert any('<meta name="examplebot" content="noai">' in p for p in pres)
    assert "GPTBot" in text and "Amazonbot" in text  # the AI tokens honoured
    assert "https://registry.example.net/v1/challenges" in text
    assert "https://lists.example.net/infringing.txt" in links
    assert "/etc/heed/private" not in text and "1 private list" in text
    assert "2026-03-01T12:00:00+00:00" in text
    alternate = root.find(".//link[@type='application/atom+xml']")
    assert alternate.get("href") == ATOM_NAME
    # self-contained: no script, no external stylesheet or image
    assert root.find(".//script") is None and root.find(".//img") is None
    assert root.find(".//link[@rel='stylesheet']") is None


def test_search_crawler_page_leaves_out_ai_only_signals(tmp_path: Path) -> None:
    info = run_info(policy={"purpose": "search"})
    root = page_tree(write_crawler_page([info], tmp_path, now=T0).page)
    links = {a.get("href") for a in root.iter("a")}
    ai_only = [s for s in STANDARDS if "search" not in s.purposes]
    assert ai_only  # TDMRep, ai.txt, the AI tokens
    for std in ai_only:
        assert std.url not in links, std.name
    pres = "\n".join(text_of(p) for p in root.iter("pre"))
    assert "X-Robots-Tag: noindex" in pres and "tdm-reservation" not in pres
    assert "noai" not in pres


def test_private_registry_is_not_published(tmp_path: Path) -> None:
    info = run_info(registry={"url": "sqlite:////srv/heed/registry.db"})
    text = text_of(page_tree(write_crawler_page([info], tmp_path, now=T0).page))
    assert "registry.db" not in text and "private consent registry" in text


def test_hostile_user_agent_is_shown_as_text_never_markup(tmp_path: Path) -> None:
    ua = "heedbot/1 <script>alert(1)</script><img src=x onerror=alert(2)> (+https://e.org/)"
    info = run_info(identity={"user_agent": ua, "contact_url": ""})
    result = write_crawler_page([info], tmp_path, now=T0)
    root = page_tree(result.page)
    assert root.find(".//script") is None and root.find(".//img") is None
    assert text_of(root.find(".//code[@id='user-agent']")) == ua
    # the contact falls back to the user-agent's URL; the feed carries the same text safely
    assert root.find(".//td[@id='contact']/a").get("href") == "https://e.org/"
    feed = feed_of(result.feed)
    assert feed.find(f"{A}link").get("href") == "https://e.org/"


def test_feed_is_valid_atom_with_one_entry_per_distinct_version(tmp_path: Path) -> None:
    agents = ["GPTBot", "CCBot"]
    first = write_crawler_page([run_info(policy={"ai_agents": agents})], tmp_path, now=T0)
    feed = feed_of(first.feed)
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{A}{tag}") is not None, tag
    assert feed.find(f"{A}id").text.startswith("urn:uuid:")
    assert feed.find(f"{A}updated").text == "2026-03-01T12:00:00+00:00"
    (entry,) = feed.findall(f"{A}entry")
    for tag in ("id", "title", "updated", "summary", "content"):
        assert entry.find(f"{A}{tag}") is not None, tag
    assert "First version" in entry.find(f"{A}summary").text
    assert entry.find(f"{A}content").get("type") == "xhtml"
    assert entry.find(f"{A}content/{XHTML}div") is not None
    page_bytes = first.page.read_bytes()
    feed_bytes = first.feed.read_bytes()

    # an unchanged config: no new entry, the same files
    again = write_crawler_page([run_info("run2", policy={"ai_agents": agents})], tmp_path, now=T1)
    assert not again.new_version and again.versions == 1 and again.version == first.version
    assert again.page.read_bytes() == page_bytes and again.feed.read_bytes() == feed_bytes

    # a changed config: a second entry, newest first, saying what changed
    more = [*agents, "NewAIBot"]
    changed = write_crawler_page([run_info("run3", policy={"ai_agents": more})], tmp_path, now=T2)
    assert changed.new_version and changed.versions == 2 and changed.version != first.version
    feed = feed_of(changed.feed)
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 2
    assert [e.find(f"{A}updated").text for e in entries] == [
        "2026-03-05T18:00:00+00:00",
        "2026-03-01T12:00:00+00:00",
    ]
    assert feed.find(f"{A}updated").text == "2026-03-05T18:00:00+00:00"
    assert "added NewAIBot" in entries[0].find(f"{A}summary").text
    ids = [e.find(f"{A}id").text for e in entries]
    first_id = ET.fromstring(feed_bytes).find(f"{A}entry/{A}id")
    assert len(set(ids)) == 2 and first_id is not None and ids[1] == first_id.text
    state = json.loads((tmp_path / STATE_NAME).read_text())
    assert [v["sha256"] for v in state["versions"]] == [first.version, changed.version]
    text = text_of(page_tree(changed.page))
    assert "NewAIBot" in text and "first published 2026-03-01T12:00:00+00:00" in text


def test_damaged_state_file_is_an_error_and_is_kept(tmp_path: Path) -> None:
    write_crawler_page([run_info()], tmp_path, now=T0)
    state = tmp_path / STATE_NAME
    page = tmp_path / PAGE_NAME
    page_before = page.read_bytes()
    for damage in (b"{not json", b"[]", b'{"format": 1, "versions": [{"sha256": "x"}]}'):
        state.write_bytes(damage)
        with pytest.raises(ConfigError, match=STATE_NAME):
            write_crawler_page([run_info(policy={"purpose": "search"})], tmp_path, now=T1)
        assert state.read_bytes() == damage
        assert page.read_bytes() == page_before


def test_state_of_another_crawler_is_refused(tmp_path: Path) -> None:
    write_crawler_page([run_info()], tmp_path, now=T0)
    other = run_info(identity={"product_token": "otherbot"})
    with pytest.raises(ConfigError, match="otherbot"):
        write_crawler_page([other], tmp_path, now=T1)


def test_runs_of_several_crawlers_are_refused(tmp_path: Path) -> None:
    runs = [run_info("a"), run_info("b", identity={"product_token": "otherbot"})]
    with pytest.raises(ConfigError, match="2 different crawlers"):
        write_crawler_page(runs, tmp_path, now=T0)
    assert not (tmp_path / PAGE_NAME).exists()


def test_runs_merge_purposes_and_skip_a_killed_crawl(tmp_path: Path) -> None:
    killed = {"crawl_id": "k", "config": {}}
    facts = facts_from_runs([run_info("a"), killed, run_info("b", policy={"purpose": "search"})])
    assert facts.purposes == ("train-ai", "search")
    with pytest.raises(ConfigError, match="none of the runs"):
        facts_from_runs([killed])
    with pytest.raises(ConfigError, match="at least one"):
        facts_from_runs([])


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"crawl_id": "x"}, "no 'config'"),
        ({"config": {"product_token": 5}}, "must be a string"),
        ({"config": {"product_token": "heedbot"}}, "'user_agent' is missing"),
        (
            {"config": {"product_token": "b", "user_agent": "b http://x", "purpose": "sell"}},
            "unknown purpose",
        ),
    ],
)
def test_unreadable_run_info_names_the_problem(info: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        facts_from_runs([info])
