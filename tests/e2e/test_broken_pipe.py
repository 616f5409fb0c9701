"""``heed … | head``: a reader that closes stdout early ends the command quietly.

Each command runs with stdout a real pipe whose read end the test closes (at once, or after
the first line, as ``head -n 1`` does); stderr must hold no traceback, no ``BrokenPipeError``
and no "Exception ignored", and the exit code must be the command's usual one (never 120, what
Python returns when flushing stdout fails at exit).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry.store import RegistryStore
from filters.registry import make_entry

from .crawlrun import ROOT, write_config

PAGE = "<!doctype html><html><head><title>Hi</title></head><body><p>Hello.</p></body></html>"


def _run_closed(*args: str, read_first_line: bool = False) -> tuple[int, str]:
    """Run ``heed args`` with stdout a pipe that is closed early; returns (exit code, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    if read_first_line:
        proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    return proc.wait(timeout=300), stderr


def _assert_quiet(stderr: str) -> None:
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored", "Broken pipe"):
        assert noise not in stderr, stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_crawl_with_stdout_closed(tmp_path: Path, as_json: bool) -> None:
    with LoopbackWeb({"s": SiteSpec(pages={"/": PageSpec(body=PAGE)})}) as web:
        config = write_config(
            tmp_path / "run.toml", {"crawl": {"seeds": [web.url("s")], "out": str(tmp_path / "o")}}
        )
        code, stderr = _run_closed("crawl", "--config", str(config), *(["--json"] * as_json))
    assert code == 0, stderr
    _assert_quiet(stderr)
    assert (tmp_path / "o" / "run.json").is_file()  # the crawl itself was not cut short


def test_check_with_stdout_closed_keeps_its_exit_code() -> None:
    pages = {"/": PageSpec(body=PAGE), "/robots.txt": PageSpec(body="User-agent: *\nDisallow: /")}
    with LoopbackWeb({"s": SiteSpec(pages=pages)}) as web:
        code, stderr = _run_closed("check", "--allow-private-networks", "--explain", web.url("s"))
    assert code == 1, stderr  # excluded by robots.txt: the usual exit code of check
    _assert_quiet(stderr)


def test_registry_list_and_export_piped_to_head(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    store = RegistryStore(db)
    store.add_many(
        [
            make_entry(
                "url", f"https://site{i}.example/p", "opt-out", ["train-ai"], registered_by="t"
            )
            for i in range(3000)
        ]
    )
    store.close()
    for command in (["registry", "list"], ["registry", "export", "-"]):
        code, stderr = _run_closed(*command, "--db", str(db), read_first_line=True)
        assert code == 0, (command, stderr)
        _assert_quiet(stderr)


def test_help_piped_to_head() -> None:
    code, stderr = _run_closed("--help")
    assert code == 0
    _assert_quiet(stderr)


def test_demo_with_stdout_closed(tmp_path: Path) -> None:
    code, stderr = _run_closed("demo", "--out", str(tmp_path / "demo-out"))
    assert code == 0, stderr
    _assert_quiet(stderr)
