"""``heed check --explain`` has advice for every reason code and never advises adding a tag
that the page already carries (SPEC.md §5, §3.8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.check.cli import main
from crawler.check.explain import _KEEP, _directive
from filters import ReasonCode

URL = "https://site.example/articles/one"


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    code = main(["--json", *map(str, args)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("code", list(ReasonCode), ids=str)
def test_every_reason_code_has_its_own_advice(code: ReasonCode) -> None:
    if code is ReasonCode.AIPREF_PARSE_ERROR:
        pytest.skip("informational: never a deciding reason")
    assert code.value in _KEEP or _directive(code.value) is not None, code


def test_an_unreadable_page_gets_advice_and_no_tag_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><head>" + b"\x00\x01\x02\x03\xff\xfe\xfd" * 200)
    code, data = check(capsys, "--offline", "--explain", "--html", page, URL)
    result = data["results"][0]
    assert code == 1 and result["reasons"] == ["html.unparseable"]
    (advice,) = result["explain"]["advice"]
    assert advice["reason"] == "html.unparseable" and not advice["examples"]
    assert "could not read" in advice["text"]


def test_a_kept_page_is_not_told_to_add_a_directive_it_already_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = tmp_path / "headers.txt"
    headers.write_text("Content-Type: text/html\nX-Robots-Tag: otherbot: noai\n", encoding="utf-8")
    code, data = check(capsys, "--offline", "--explain", "--headers", headers, URL)
    result = data["results"][0]
    assert code == 0 and result["verdict"] == "kept"
    snippets = [e["snippet"] for a in result["explain"]["advice"] for e in a["examples"]]
    assert "X-Robots-Tag: noai" not in snippets
    assert '<meta name="robots" content="noai">' in snippets
    assert any("already carries" in a["text"] for a in result["explain"]["advice"])
