"""RFC 9309 conformance: the 145 google/robotstxt cases of tests/vectors (SPEC.md §3.1).

Five cases are named divergences (tests/vectors/README.md): heed follows RFC 9309's
percent-encoding (ID_Encoding_03/05/06) and has no 16,664-byte line limit
(GoogleOnly_LineTooLong_02/05). For those the RFC answer is asserted explicitly. Every other
case must give Google's answer, and no case outside the named ones may answer "allowed" where
"disallowed" is expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from protego import Protego

from filters import robots
from filters.model import Verdict
from filters.reasons import ReasonCode

_CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "robots_reference_cases.json").read_text("utf-8")
)
#: name -> the answer heed gives (RFC 9309), which differs from Google's.
DIVERGENCES = {
    "ID_Encoding_03": True,
    "ID_Encoding_05": True,
    "ID_Encoding_06": True,
    "GoogleOnly_LineTooLong_02": True,
    "GoogleOnly_LineTooLong_05": False,
}


def _allowed(case: dict[str, Any]) -> bool:
    policy = robots.parse(case["robots"].encode("utf-8"))
    result = robots.evaluate(policy, case["url"], case["agent"])
    if result.verdict is Verdict.DENY:
        assert result.reasons == (ReasonCode.ROBOTS_DISALLOW,)
        assert result.raw is not None and result.raw.lower().startswith("disallow")
        return False
    assert result.verdict is Verdict.NONE and result.reasons == ()
    return True


def test_vector_file_has_all_cases() -> None:
    assert len(_CASES) == 145
    assert set(DIVERGENCES) <= {c["name"] for c in _CASES}


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_reference_case(case: dict[str, Any]) -> None:
    expected = DIVERGENCES.get(case["name"], case["allowed"])
    if case["name"] in DIVERGENCES:
        assert expected != case["allowed"]  # a named divergence really diverges
    assert _allowed(case) is expected


def test_no_wrong_allow_outside_named_divergences() -> None:
    wrong = [
        c["name"]
        for c in _CASES
        if c["name"] not in DIVERGENCES and not c["allowed"] and _allowed(c)
    ]
    assert wrong == []


def test_encoding_divergences_agree_with_protego() -> None:
    # protego normalises percent-encoding as RFC 9309 §2.2.2 does; it is the reference.
    for case in _CASES:
        if case["name"].startswith("ID_Encoding"):
            reference = Protego.parse(case["robots"]).can_fetch(case["url"], case["agent"])
            assert _allowed(case) is reference, case["name"]
