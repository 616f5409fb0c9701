"""Licence tag (SPEC.md §4): CC URL → SPDX, candidate choice, open-set matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filters import license as lic
from filters.model import LicenseTag

VECTORS = Path(__file__).parent.parent / "vectors" / "license_cases.json"
BY = "https://creativecommons.org/licenses/by/4.0/"
BY_NC = "https://creativecommons.org/licenses/by-nc/4.0/"
BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


@pytest.mark.parametrize(("url", "spdx"), json.loads(VECTORS.read_text()))
def test_normalize(url: str, spdx: str) -> None:
    assert lic.normalize(url) == spdx


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "http://[::1",
        "https://creativecommons.org/licenses/by/x/",
        "https://creativecommons.org/licenses/by/4.0/de/extra/more",
    ],
)
def test_normalize_unreadable_is_license_ref_url(url: str) -> None:
    assert lic.normalize(url) == "LicenseRef-url"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CC-BY-4.0", "CC-BY-4.0"),
        ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
        ("cc0-1.0", "CC0-1.0"),
        ("MIT", "MIT"),
        ("LicenseRef-acme-1", "LicenseRef-acme-1"),
        ("not a licence", None),
        ("", None),
        ("CC BY 4.0", None),
    ],
)
def test_normalize_id(text: str, expected: str | None) -> None:
    assert lic.normalize_id(text) == expected


def test_choose_nothing() -> None:
    info = lic.choose([])
    assert (info.license, info.conflict, info.candidates) == (None, False, ())
    assert lic.choose([("All rights reserved", "meta")]).license is None


def test_choose_single_id_takes_most_trusted_candidate() -> None:
    info = lic.choose([(BY + "deed.en", "html-rel"), (BY, "json-ld"), ("CC-BY-4.0", "registry")])
    assert (info.license, info.url, info.source, info.conflict) == (
        "CC-BY-4.0",
        BY + "deed.en",
        "html-rel",
        False,
    )
    assert [c[2] for c in info.candidates] == ["html-rel", "json-ld", "registry"]


def test_choose_conflict_most_restrictive() -> None:
    info = lic.choose([(CC0, "html-rel"), (BY_NC, "json-ld"), (BY_SA, "http-link")])
    assert (info.license, info.source, info.conflict) == ("CC-BY-NC-4.0", "json-ld", True)
    assert {c[0] for c in info.candidates} == {"CC0-1.0", "CC-BY-NC-4.0", "CC-BY-SA-4.0"}


def test_choose_license_ref_url_is_most_restrictive() -> None:
    info = lic.choose([(BY, "html-rel"), ("https://example.com/terms", "meta")])
    assert (info.license, info.url, info.conflict) == (
        "LicenseRef-url",
        "https://example.com/terms",
        True,
    )


def test_choose_registry_id() -> None:
    info = lic.choose([("cc-by-4.0", "registry")])
    assert (info.license, info.url, info.source) == ("CC-BY-4.0", None, "registry")


def test_ported_licence_ranks_with_its_family() -> None:
    es = "https://creativecommons.org/licenses/by-sa/3.0/es/"
    info = lic.choose([(es, "html-rel"), (BY, "json-ld")])
    assert (info.license, info.conflict) == ("LicenseRef-CC-BY-SA-3.0-ES", True)
    info = lic.choose([(es, "html-rel"), (BY_NC, "json-ld")])
    assert info.license == "CC-BY-NC-4.0"


def test_restrictiveness_order() -> None:
    ordered = [
        "CC0-1.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC-BY-ND-4.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-NC-ND-4.0",
        "LicenseRef-url",
    ]
    ranks = [lic.restrictiveness(t) for t in ordered]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert lic.restrictiveness("CC-PDM-1.0") == lic.restrictiveness("CC0-1.0")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("CC0-1.0", True),
        ("CC-PDM-1.0", True),
        ("CC-BY-4.0", True),
        ("CC-BY-3.0-DE", True),
        ("CC-BY-SA-4.0", True),
        ("LicenseRef-CC-BY-SA-3.0-ES", True),
        ("CC-BY-NC-4.0", False),
        ("CC-BY-ND-4.0", False),
        ("CC-BY-NC-SA-4.0", False),
        ("CC-BY-NC-ND-3.0-DE", False),
        ("LicenseRef-url", False),
        ("MIT", False),
        (None, False),
        ("CC-PDDC", False),
    ],
)
def test_is_open_default(tag: str | None, expected: bool) -> None:
    value = LicenseTag(tag) if tag is not None else None
    assert lic.is_open(value) is expected


def test_is_open_custom_set() -> None:
    assert lic.is_open(LicenseTag("CC-BY-SA-4.0"), ["CC-BY-*"]) is False
    assert lic.is_open(LicenseTag("cc-by-4.0"), ["CC-BY-*"]) is True
    assert lic.is_open(LicenseTag("MIT"), ["MIT"]) is True
    assert lic.is_open(LicenseTag("LicenseRef-url"), ["*"]) is True
    assert lic.is_open(LicenseTag("CC-BY-4.0"), []) is False
