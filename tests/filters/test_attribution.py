"""Attribution read from a page's markup in heed's one parse (filters/_html_attribution.py)."""

from __future__ import annotations

import json

import pytest

from filters.html import Attribution, extract


def _attr(body: str | bytes) -> Attribution:
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    page = extract(data, "https://example.org/a", product_token="heed", ai_agents=())
    assert page.error is None
    return page.attribution


def _page(head: str, html_attrs: str = "") -> str:
    return f"<!doctype html><html{html_attrs}><head>{head}</head><body><p>x</p></body></html>"


def _ld(obj: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def test_a_page_without_attribution_has_every_field_null() -> None:
    assert _attr(_page("<title>t</title>")) == Attribution()
    assert _attr("<p>just text</p>") == Attribution()


def test_plain_meta_and_html_lang() -> None:
    got = _attr(
        _page(
            '<meta name="Author" content=" Ann  Lee "><meta name=publisher content="Acme Press">'
            '<meta name="date" content="2023-02-03">',
            " lang=EN-gb",
        )
    )
    assert got == Attribution(
        author="Ann Lee",
        publisher="Acme Press",
        published_at="2023-02-03",
        language="en-GB",
    )


def test_opengraph() -> None:
    got = _attr(
        _page(
            '<meta property="og:site_name" content="The Daily">'
            '<meta property="article:author" content="https://example.org/staff/bo">'
            '<meta property="article:published_time" content="2024-05-01T10:00:00+02:00">'
            '<meta property="og:locale" content="pt_BR">'
        )
    )
    assert got == Attribution(
        author="https://example.org/staff/bo",
        site_name="The Daily",
        published_at="2024-05-01T08:00:00Z",
        language="pt-BR",
    )


def test_json_ld_graph_with_id_references() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "@id": "#site", "name": "Example Site"},
            {
                "@type": "NewsArticle",
                "author": [{"@id": "#p1"}, {"@type": "Person", "name": "Bo Ek"}],
                "publisher": {"@type": "Organization", "name": "Example Media"},
                "datePublished": "2021-12-24T23:30:00-05:00",
                "inLanguage": "de-AT",
            },
            {"@type": "Person", "@id": "#p1", "name": "Cy Fox"},
        ],
    }
    assert _attr(_page(_ld(graph))) == Attribution(
        author="Cy Fox; Bo Ek",
        publisher="Example Media",
        site_name="Example Site",
        published_at="2021-12-25T04:30:00Z",
        language="de-AT",
    )


def test_sources_in_order_json_ld_then_meta_then_opengraph() -> None:
    head = (
        '<meta name="author" content="Meta Name">'
        '<meta property="article:author" content="OG Name">'
        '<meta property="article:published_time" content="2020-01-01">'
        '<meta http-equiv="Content-Language" content="fr, en">'
        + _ld({"@type": "Article", "author": "LD Name", "datePublished": "2019"})
    )
    got = _attr(_page(head))
    assert got.author == "LD Name"
    assert got.published_at == "2019"
    assert got.language == "fr"  # no <html lang>, no inLanguage: the first content-language
    assert _attr(_page(head, " lang=nl")).language == "nl"
    og_then_meta = '<meta property="article:author" content="OG"><meta name=author content=M>'
    no_ld = _attr(_page(og_then_meta))
    assert no_ld.author == "M"


def test_several_authors_are_joined_in_order_without_duplicates() -> None:
    names = [{"name": "A"}, {"name": "B"}, "A", {"name": "C"}]
    assert _attr(_page(_ld({"author": names}))).author == "A; B; C"
    metas = '<meta name=author content="X"><meta name=author content="Y">'
    assert _attr(_page(metas)).author == "X; Y"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024", "2024"),
        ("2024-02", "2024-02"),
        ("2024-02-29", "2024-02-29"),
        ("2024-02-29T12:00:00", "2024-02-29"),  # no offset: the date only
        ("2024-02-29 12:00", "2024-02-29"),
        ("2024-02-29T23:00:00Z", "2024-02-29T23:00:00Z"),
        ("2024-02-29T23:00:00.123+0100", "2024-02-29T22:00:00Z"),
        ("2023-02-29", None),
        ("2024-13", None),
        ("1066-10-14", None),
        ("05/01/2024", None),
        ("yesterday", None),
        ("2024-01-01T25:00:00Z", None),
        ("2024-01-01 and more", None),
        ("", None),
    ],
)
def test_published_at_normalisation(value: str, expected: str | None) -> None:
    assert _attr(_page(_ld({"datePublished": value}))).published_at == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "en"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("en_US", "en-US"),
        ("", None),
        ("english please", None),
        ("<script>", None),
        ("e", None),
    ],
)
def test_language_tags(lang: str, expected: str | None) -> None:
    assert _attr(_page("", f' lang="{lang}"')).language == expected


def test_hostile_values_are_bounded_and_cleaned() -> None:
    long_name = "N" * 5000
    got = _attr(
        _page(
            f'<meta name=author content="{long_name}">'
            '<meta property="og:site_name" content="a&#1;b&#x7f;c\td">'
        )
    )
    assert got.author == "N" * 300
    assert got.site_name == "a b c d"
    many = [{"name": f"Author {i} " + "x" * 40} for i in range(1000)]
    author = _attr(_page(_ld({"author": many}))).author
    assert author is not None and len(author) <= 300 and author.startswith("Author 0 ")


def test_lone_surrogates_and_controls_in_json_ld_never_reach_a_record() -> None:
    raw = '{"author": "Ann \\ud800 \\u0000 Lee", "publisher": {"name": "\\udfff"}}'
    got = _attr(_page(f'<script type="application/ld+json">{raw}</script>'))
    assert got.author == "Ann \ufffd Lee"
    assert got.publisher == "\ufffd"
    assert got.author.encode("utf-8")  # encodable: the schema would refuse a surrogate


@pytest.mark.parametrize(
    "script",
    [
        "{not json",
        "[" * 100_000 + "]" * 100_000,  # nesting beyond the JSON parser's recursion
        json.dumps({"author": {"name": {"name": {"name": "deep"}}}}),
        json.dumps({"author": 42, "publisher": [None, True, 1.5], "datePublished": ["2024"]}),
        json.dumps({"@graph": "nope", "inLanguage": {"x": 1}}),
        json.dumps([1, "two", None, [{"author": "inner list"}]]),
        json.dumps({"author": [{"@id": "#missing"}]}),
    ],
)
def test_garbage_json_ld_gives_null_fields_and_never_raises(script: str) -> None:
    page = extract(
        _page(f'<script type="application/ld+json">{script}</script>').encode(),
        "https://example.org/",
        product_token="heed",
        ai_agents=(),
    )
    assert page.error is None
    assert page.attribution == Attribution()


def test_json_ld_name_variants() -> None:
    got = _attr(
        _page(
            _ld(
                {
                    "author": {"name": ["First", "Second"]},
                    "publisher": {"name": {"@value": "Valued"}},
                    "inLanguage": {"@type": "Language", "alternateName": "sv"},
                }
            )
        )
    )
    assert got == Attribution(author="First", publisher="Valued", language="sv")


def test_attribution_metas_do_not_touch_consent_metas() -> None:
    page = extract(
        _page('<meta name="robots" content="noai"><meta name="author" content="A">').encode(),
        "https://example.org/",
        product_token="heed",
        ai_agents=(),
    )
    assert page.metas == (("robots", "noai"),)
    assert page.attribution.author == "A"


def test_an_unreadable_page_has_no_attribution() -> None:
    page = extract(b"\x00\x01\x02" * 3000, "https://example.org/", product_token="h", ai_agents=())
    assert page.error is not None
    assert page.attribution == Attribution()
