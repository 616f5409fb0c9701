"""``heed demo --serve``: the real command in a subprocess crawls the demo web, then serves the
site-owner page next to it (printing its URL) until Ctrl-C; the page checks a demo site."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue

import httpx

from tests.e2e.crawlrun import ROOT


def _lines(stream: object, into: Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_demo_serve_prints_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "demo", "--serve", "--out", str(tmp_path / "demo")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        while not any(line.startswith("press Ctrl-C") for line in seen):
            try:
                seen.append(lines.get(timeout=180))
            except Empty:
                raise AssertionError("no page URL printed:\n" + "".join(seen)) from None
        text = "".join(seen)
        page = re.search(r"^site-owner page: (http://127\.0\.0\.1:\d+/)$", text, re.M)
        site = re.search(r"^  [\w.-]+: (http://[\d.]+:\d+/)$", text, re.M)
        assert page is not None and site is not None, text
        assert "kept" in text and "excluded" in text  # the crawl's table came first
        with httpx.Client(base_url=page.group(1), timeout=60) as client:
            form = client.get("/")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert form.status_code == 200 and token is not None
            checked = client.post("/check", data={"csrf": token.group(1), "url": site.group(1)})
        assert checked.status_code == 200, checked.text
        assert re.search(r'id="verdict">(kept|excluded)<', checked.text)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        errors = proc.stderr.read() if proc.stderr else ""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert code == 0, errors
