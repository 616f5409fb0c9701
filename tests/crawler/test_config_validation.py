"""Config values that can only be mistakes are refused before anything is fetched (exit 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config, parse_config
from filters import ConfigError
from tests.e2e.crawlrun import heed, write_config

BASE: dict[str, dict[str, Any]] = {"identity": {"contact_url": "https://example.org/bot"}}


def _parse(section: str, key: str, value: Any) -> None:
    data = {name: dict(body) for name, body in BASE.items()}
    data.setdefault(section, {})[key] = value
    parse_config(data)


BAD = [
    ("limits", "download_timeout", float("nan")),
    ("limits", "download_timeout", float("inf")),
    ("limits", "download_timeout", 1e9),
    ("limits", "max_crawl_delay", float("inf")),
    ("limits", "max_crawl_delay", float("-inf")),
    ("limits", "signal_ttl", float("nan")),
    ("limits", "signal_ttl", 1e12),
    ("limits", "max_page_bytes", 2**40),
    ("limits", "robots_max_bytes", 2**40),
    ("network", "concurrency", 100_000_000_000),
    ("network", "per_host_concurrency", 100_000),
    ("output", "part_max_rows", 10**12),
    ("output", "row_group_rows", 10**12),
    ("output", "flush_interval", float("nan")),
    ("crawl", "max_pages", 10**15),
    ("crawl", "max_depth", 40_000),
    ("crawl", "seeds", ["http://exa mple.com/"]),
    ("crawl", "seeds", ["http://a.example:99999/"]),
    ("crawl", "seeds", ["http://[::1/"]),
    ("crawl", "seeds", ["http://a.example/\x07"]),
    ("crawl", "seeds", ["http:///nohost"]),
    ("crawl", "seeds", ["https://a.example/" + "x" * 3000]),
    ("crawl", "allowed_hosts", ["exa mple.com"]),
    ("crawl", "allowed_hosts", [""]),
    ("crawl", "out", ""),
    ("policy", "ai_agents", ["GPT Bot", ""]),
    ("policy", "ai_agents", ["GPTBot", ""]),
    ("policy", "ai_agents", ["CCBot\n"]),
    ("identity", "product_token", "heed bot"),
    ("identity", "product_token", "heedbot2"),
    ("identity", "contact_url", "https://exa mple.org/"),
    ("identity", "user_agent", "heedbot https://example.org/\r\nX-Injected: 1"),
    ("registry", "url", "http://[::1"),
    ("registry", "url", "http://localhost:99999"),
    ("registry", "url", "sqlite:///"),
]


@pytest.mark.parametrize(("section", "key", "value"), BAD, ids=lambda v: repr(v)[:40])
def test_bad_value_is_refused_naming_its_key(section: str, key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(section, key, value)
    assert f"[{section}] {key}" in str(caught.value)


GOOD = [
    ("limits", "download_timeout", 3600),
    ("network", "concurrency", 1024),
    ("policy", "ai_agents", ["GPTBot", "AI2Bot", "img2dataset", "Google-Extended"]),
    ("crawl", "seeds", ["https://bücher.example/", "http://[::1]:8080/", "http://a_b.example/"]),
    ("crawl", "allowed_hosts", [".example.org", "cdn.example.org"]),
    ("registry", "url", "http://127.0.0.1:8080"),
]


@pytest.mark.parametrize(("section", "key", "value"), GOOD, ids=lambda v: repr(v)[:40])
def test_sane_values_are_accepted(section: str, key: str, value: Any) -> None:
    _parse(section, key, value)


def test_nan_in_a_toml_file_is_a_configuration_error_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        '[crawl]\nseeds = ["https://example.org/"]\n'
        '[identity]\ncontact_url = "https://example.org/bot"\n'
        "[limits]\ndownload_timeout = nan\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"\[limits\] download_timeout: must be a finite"):
        load_config(config)
    proc = heed("crawl", "--config", str(config), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "[limits] download_timeout" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_bad_registry_url_is_exit_2_not_a_crawl_of_unavailable_urls(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "run.toml",
        {"crawl": {"seeds": ["http://127.0.0.1:9/"]}, "registry": {"url": "http://[::1"}},
    )
    proc = heed("crawl", "--config", str(config), "--out", str(tmp_path / "out"), "--json")
    assert proc.returncode == 2, proc.stderr
    assert "[registry] url" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def _crawl_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "run.toml", {"crawl": {"seeds": ["http://127.0.0.1:9/"]}})


def test_out_naming_an_existing_file_is_exit_2_with_the_path(tmp_path: Path) -> None:
    target = tmp_path / "results.parquet"
    target.write_bytes(b"PAR1 someone else's data")
    proc = heed("crawl", "--config", str(_crawl_config(tmp_path)), "--out", str(target))
    assert proc.returncode == 2, proc.stderr
    assert str(target) in proc.stderr and "not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert target.read_bytes() == b"PAR1 someone else's data"


def test_out_under_a_file_is_exit_2_with_the_path(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    out = tmp_path / "plain" / "out"
    proc = heed("crawl", "--config", str(_crawl_config(tmp_path)), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert str(out) in proc.stderr and "Traceback" not in proc.stderr


def test_out_with_records_as_a_file_is_exit_2_before_fetching(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "records").write_text("not a folder", encoding="utf-8")
    proc = heed("crawl", "--config", str(_crawl_config(tmp_path)), "--out", str(out), "--json")
    assert proc.returncode == 2, proc.stderr
    assert str(out / "records") in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "run.json").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_out_in_an_unwritable_parent_is_exit_2(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        proc = heed("crawl", "--config", str(_crawl_config(tmp_path)), "--out", str(parent / "o"))
    finally:
        parent.chmod(0o700)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_max_pages_flag_is_bounded(tmp_path: Path) -> None:
    config = _crawl_config(tmp_path)
    proc = heed("crawl", "--config", str(config), "--max-pages", str(10**15), "--json")
    assert proc.returncode == 2 and "--max-pages" in proc.stderr


def test_check_with_a_bad_url_is_exit_2_with_a_message() -> None:
    proc = heed("check", "http://a.example:99999/")
    assert proc.returncode == 2
    assert "99999" in proc.stderr and "Traceback" not in proc.stderr
    proc = heed("check", "--json", "http://exa mple.com/")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout or "null") is None
