"""HTML as the real web serves it (SPEC.md §3.8): control characters, broken markup, metas
anywhere, and the HTML Standard's encoding sniffing. Pure: bytes and headers in, signals or
the engine's decision out."""

from __future__ import annotations

import codecs

import pytest

from filters import FetchOutcome, Headers, ReasonCode, html
from filters.engine import EngineConfig, SiteSignals, decide_post_fetch, decide_pre_fetch
from filters.engine import inspect_response as inspect
from filters.model import DocState
from filters.robots import policy_from_fetch

AGENTS = ("GPTBot",)
URL = "https://news.example/2024/05/article.html"
NOAI = '<meta name="robots" content="noai">'
TDM = '<meta name="tdm-reservation" content="1">'


def ex(body: bytes, content_type: str | None = "text/html") -> html.HtmlSignals:
    return html.extract(
        body, URL, product_token="HeedBot", ai_agents=AGENTS, content_type=content_type
    )


def page(head: str = "", body: str = "<p>Hello, world.</p>", before: str = "", after: str = ""):
    return (
        f'{before}<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Article</title>{head}</head>\n<body>{body}</body></html>{after}"
    )


def decide(body: bytes, content_type: str | None = "text/html", **cfg: object):
    config = EngineConfig(ai_agents=AGENTS, **cfg)  # type: ignore[arg-type]
    robots = policy_from_fetch(FetchOutcome(url="https://news.example/robots.txt", status=404))
    assert robots.state is DocState.ABSENT
    site = SiteSignals(robots)
    pre = decide_pre_fetch(site, URL, config)
    headers = Headers({"content-type": content_type} if content_type else {})
    response = FetchOutcome(url=URL, status=200, headers=headers, body=body)
    return decide_post_fetch(pre, site, inspect(response, config), config)


# ----------------------------------------------------------------- control characters

CONTROLS = ["\x0c", "\x0b", "\x01", "\x1b", "\x7f", "\x00", "\x08", "\x1f", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize("where", ["head", "text", "attribute", "title"])
def test_one_control_character_never_hides_the_opt_out(char: str, where: str) -> None:
    head, text = NOAI + TDM, "<p>Hello, world.</p>"
    if where == "head":
        head = f"<style>p{{}}{char}</style>" + head
    elif where == "text":
        text = f"<p>Hello{char} world.</p>"
    elif where == "attribute":
        text = f'<p class="a{char}b">Hello</p>'
    else:
        head += f"<title>x{char}y</title>"
    signals = ex(page(head, text).encode("utf-8"))
    assert signals.error is None
    assert ("robots", "noai") in signals.metas
    assert signals.tdm_reservation == ("1",)
    decision = decide(page(head, text).encode("utf-8"))
    assert not decision.allowed
    assert ReasonCode.META_ROBOTS_NOAI in decision.reasons
    assert ReasonCode.TDMREP_RESERVED in decision.reasons


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_a_page_with_a_control_character_and_no_opt_out_is_kept_with_its_text(char: str) -> None:
    body = page(body=f"<p>Caf\u00e9{char}au lait</p><a href='/next'>next</a>").encode("utf-8")
    signals = ex(body)
    assert signals.error is None
    assert "au lait" in signals.text and "Caf\u00e9" in signals.text
    assert signals.links == ("https://news.example/next",)
    assert decide(body).allowed


def test_a_control_character_between_attributes_counts_as_a_space() -> None:
    # Form feed is HTML whitespace; the other controls are read as spaces too (conservative).
    for char in ("\x0c", "\x0b", "\x01"):
        body = page(f'<meta{char}name="robots"{char}content="noai">').encode()
        assert ("robots", "noai") in ex(body).metas, repr(char)


def test_nul_and_lone_surrogate_bytes_do_not_stop_reading() -> None:
    lone = b"\xed\xa0\x80"  # U+D800 in (invalid) UTF-8
    for junk in (b"\x00", lone, b"\xed\xbf\xbf", b"\xc0\xaf", b"\xff\xfe", b"\xf4\x90\x80\x80"):
        body = page(NOAI, "<p>a@b</p>").encode().replace(b"@", junk)
        signals = ex(body)
        assert signals.error is None, junk
        assert ("robots", "noai") in signals.metas, junk
        assert not decide(body).allowed, junk


def test_every_kind_of_junk_at_once() -> None:
    junk = "\x00\x01\x0b\x0c\x1b\x7f\ufffe\uffff\u0085\u2028"
    body = page(NOAI, f"<p>{junk}</p><div>{junk}<span>x</span></div>").encode()
    assert not decide(body).allowed


# ----------------------------------------------------------------- broken markup


@pytest.mark.parametrize(
    "markup",
    [
        "<html><head>" + NOAI + "<body><p>unclosed <b>bold <i>both</p></div></span>",
        "<p <p <<>>" + NOAI + "<",
        "<html><head><title>never closed" + NOAI,  # title eats the meta in HTML5 too
        '<html><head><meta name="robots" content="noai"',  # cut mid-tag at the end
        "<!DOCTYPE html><html><html><head></head><head>" + NOAI + "</head></html></html>",
        "<table><tr><td>" + NOAI + "</table>",
        '<div attr="unterminated>' + NOAI + "</div>",
        "<![CDATA[ x ]]><?php echo 1; ?>" + NOAI,
        "<!-- unclosed comment " + NOAI,
    ],
)
def test_broken_markup_never_raises_and_never_keeps_silently(markup: str) -> None:
    body = markup.encode()
    signals = ex(body)
    decision = decide(body)
    if ("robots", "noai") in signals.metas:
        assert not decision.allowed
    else:  # the markup really hides it (in a title, attribute or comment): no error either
        assert signals.error is None


def test_broken_markup_that_keeps_the_meta_readable_is_excluded() -> None:
    for markup in (
        "<html><head>" + NOAI + "<body><p>unclosed <b>bold <i>both</p></div></span>",
        "<p <p <<>>" + NOAI + "<",
        "<table><tr><td>" + NOAI + "</table>",
        "<![CDATA[ x ]]><?php echo 1; ?>" + NOAI,
    ):
        assert not decide(markup.encode()).allowed, markup


# ----------------------------------------------------------------- metas wherever they stand


@pytest.mark.parametrize(
    ("where", "markup"),
    [
        ("before <html>", NOAI + page()),
        ("before <!DOCTYPE>", NOAI + "\n" + page()),
        ("after </html>", page() + "\n" + NOAI),
        ("after </html> twice", page() + "</html><p>x</p></html>" + NOAI),
        ("after </html> and a comment", page() + "<!-- end -->\n" + NOAI + "\n"),
        ("after </HTML >", page().replace("</html>", "</HTML >") + NOAI),
        ("in body", page(body="<p>x</p>" + NOAI)),
        ("end of body", page(body="<p>x</p><footer>f</footer>" + NOAI)),
        ("in <noscript> in head", page(head="<noscript>" + NOAI + "</noscript>")),
        ("in <noscript> in body", page(body="<noscript>" + NOAI + "</noscript>")),
        ("in <template>", page(body="<template>" + NOAI + "</template>")),
        ("in <svg>", page(body="<svg>" + NOAI + "</svg>")),
        ("after </body>", page().replace("</body>", "</body>" + NOAI)),
    ],
)
def test_metas_count_wherever_they_stand(where: str, markup: str) -> None:
    body = markup.encode()
    assert ("robots", "noai") in ex(body).metas, where
    decision = decide(body)
    assert not decision.allowed and ReasonCode.META_ROBOTS_NOAI in decision.reasons, where


def test_tdm_and_bot_metas_after_html_count_too() -> None:
    body = (page() + '<meta name="GPTBot" content="noai">' + TDM).encode()
    signals = ex(body)
    assert ("gptbot", "noai") in signals.metas
    assert signals.tdm_reservation == ("1",)
    assert "Hello, world." in signals.text  # the page's own text is unchanged


def test_a_commented_out_meta_does_not_count() -> None:
    body = page(head="<!-- " + NOAI + " -->").encode()
    assert ex(body).metas == ()
    assert decide(body).allowed


# ----------------------------------------------------------------- encodings

TEXT = "Caf\u00e9 cr\u00e8me, \u00fcber, na\u00efve"


@pytest.mark.parametrize(
    ("label", "codec"),
    [("utf-16le", "utf-16-le"), ("utf-16be", "utf-16-be"), ("utf-16", "utf-16-le")],
)
def test_http_charset_utf16_without_bom(label: str, codec: str) -> None:
    body = page(NOAI, f"<p>{TEXT}</p>").replace(' charset="utf-8"', "").encode(codec)
    ctype = f"text/html; charset={label}"
    signals = ex(body, ctype)
    assert ("robots", "noai") in signals.metas
    assert TEXT in signals.text
    assert not decide(body, ctype).allowed
    assert decide(body.replace(NOAI.encode(codec), b""), ctype).allowed


def test_http_charset_utf16_on_ascii_bytes_still_reads_the_ascii_metas() -> None:
    body = page(NOAI).encode("utf-8")  # the server lies: it says UTF-16
    assert not decide(body, "text/html; charset=utf-16le").allowed


def test_utf16_without_bom_or_charset_is_unreadable() -> None:
    body = page(NOAI, f"<p>{TEXT}</p>").replace(' charset="utf-8"', "").encode("utf-16-le")
    signals = ex(body, "text/html")
    assert signals.error is not None
    decision = decide(body, "text/html")
    assert decision.reasons == (ReasonCode.HTML_UNPARSEABLE,)


@pytest.mark.parametrize(
    ("label", "codec", "text"),
    [
        ("windows-1252", "cp1252", "Caf\u00e9 \u201cquoted\u201d \u20ac5"),
        ("shift_jis", "shift_jis", "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8"),
        ("euc-kr", "euc-kr", "\ud55c\uad6d\uc5b4 \ud398\uc774\uc9c0"),
        ("gb18030", "gb18030", "\u4e2d\u6587\u7f51\u9875 \u20ac"),
        ("gbk", "gbk", "\u4e2d\u6587\u7f51\u9875"),
        ("big5", "big5", "\u4e2d\u6587\u7db2\u9801"),
        ("euc-jp", "euc-jp", "\u65e5\u672c\u8a9e"),
        ("iso-2022-jp", "iso2022_jp", "\u65e5\u672c\u8a9e"),
        ("koi8-r", "koi8-r", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439"),
        ("windows-1251", "cp1251", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439"),
        ("iso-8859-1", "cp1252", "Caf\u00e9 \u00fcber"),
        ("iso-8859-2", "iso8859-2", "\u017b\u00f3\u0142w \u0161\u010d"),
        ("iso-8859-5", "iso8859-5", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439"),
        ("iso-8859-7", "iso8859-7", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac"),
        ("iso-8859-8", "iso8859-8", "\u05e2\u05d1\u05e8\u05d9\u05ea"),
        ("iso-8859-15", "iso8859-15", "\u20ac \u0153uvre"),
        ("windows-874", "cp874", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22"),
    ],
)
@pytest.mark.parametrize("declared", ["http", "meta", "http-equiv"])
def test_legacy_encodings_are_decoded_and_their_metas_read(
    label: str, codec: str, text: str, declared: str
) -> None:
    head = NOAI
    ctype = "text/html"
    if declared == "http":
        ctype = f"text/html; charset={label}"
    elif declared == "meta":
        head = f'<meta charset="{label}">' + head
    else:
        head = f'<meta http-equiv="Content-Type" content="text/html; charset={label}">' + head
    markup = page(head, f"<p>{text}</p>").replace('<meta charset="utf-8">', "")
    body = markup.encode(codec)
    signals = ex(body, ctype)
    assert text in signals.text
    assert ("robots", "noai") in signals.metas
    assert not decide(body, ctype).allowed
    assert decide(markup.replace(NOAI, "").encode(codec), ctype).allowed


def test_charset_utf32_in_a_description_is_not_a_declaration() -> None:
    head = '<meta name="description" content="We serve charset=utf-32 files">' + NOAI
    markup = page(head, f"<p>{TEXT}</p>").replace('<meta charset="utf-8">', "")
    body = markup.encode("utf-8")
    signals = ex(body, None)
    assert TEXT in signals.text
    assert not decide(body, None).allowed


def test_charset_in_a_comment_or_text_is_not_a_declaration() -> None:
    for decoy in ('<!-- <meta charset="shift_jis"> -->', "<title>charset=utf-16be</title>"):
        markup = decoy + page(NOAI, f"<p>{TEXT}</p>").replace('<meta charset="utf-8">', "")
        signals = ex(markup.encode("utf-8"), None)
        assert TEXT in signals.text, decoy
        assert ("robots", "noai") in signals.metas, decoy


@pytest.mark.parametrize("lie", ["utf-32", "utf-16", "utf-16be", "x-no-such-thing", "utf-7"])
def test_a_meta_charset_lie_does_not_garble_the_page(lie: str) -> None:
    markup = page(NOAI, f"<p>{TEXT}</p>").replace('charset="utf-8"', f'charset="{lie}"')
    body = markup.encode("utf-8")
    signals = ex(body, "text/html")
    assert TEXT in signals.text
    assert not decide(body).allowed


def test_x_user_defined_in_a_meta_is_windows_1252() -> None:
    markup = page(body="<p>caf\u00e9</p>").replace('charset="utf-8"', 'charset="x-user-defined"')
    assert "caf\u00e9" in ex(markup.encode("cp1252"), None).text


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
def test_the_bom_beats_the_http_charset_and_the_meta(bom: bytes, codec: str) -> None:
    markup = page(NOAI, f"<p>{TEXT}</p>").replace('charset="utf-8"', 'charset="windows-1251"')
    body = bom + markup.encode(codec)
    ctype = "text/html; charset=windows-1252"
    signals = ex(body, ctype)
    assert TEXT in signals.text
    assert not decide(body, ctype).allowed


def test_the_http_charset_beats_the_meta() -> None:
    markup = page(NOAI, "<p>\u0420\u0443\u0441\u0441\u043a\u0438\u0439</p>")  # meta: utf-8
    body = markup.encode("cp1251")
    signals = ex(body, "text/html; charset=windows-1251")
    assert "\u0420\u0443\u0441\u0441\u043a\u0438\u0439" in signals.text
    assert "\u0420" not in ex(body, "text/html").text  # the meta alone: UTF-8, replaced


@pytest.mark.parametrize(
    "ctype",
    [
        'text/html; charset="windows-1251"',
        "text/html;charset=WINDOWS-1251",
        "text/html; q=1; charset=cp1251",
    ],
)
def test_http_charset_parameter_forms(ctype: str) -> None:
    body = page(body="<p>\u0420\u0443\u0441</p>").encode("cp1251")
    assert "\u0420\u0443\u0441" in ex(body, ctype).text


def test_an_unknown_http_charset_falls_through_to_the_meta() -> None:
    markup = page(body="<p>caf\u00e9</p>").replace('charset="utf-8"', 'charset="windows-1252"')
    assert "caf\u00e9" in ex(markup.encode("cp1252"), "text/html; charset=utf-32").text


def test_the_prescan_stops_at_1024_bytes() -> None:
    filler = "<!-- " + "x" * 1100 + " -->"
    markup = filler + page(body="<p>caf\u00e9</p>").replace('charset="utf-8"', 'charset="koi8-r"')
    assert "caf\u00e9" in ex(markup.encode("utf-8"), None).text  # the late meta is ignored


# ----------------------------------------------------------------- unreadable pages


@pytest.mark.parametrize("label", ["iso-2022-kr", "hz-gb-2312", "replacement"])
def test_the_replacement_encoding_is_unreadable_and_always_excluded(label: str) -> None:
    body = page(body="<p>x</p>").encode()
    ctype = f"text/html; charset={label}"
    assert ex(body, ctype).error is not None
    decision = decide(body, ctype, on_signal_error="ignore")
    assert not decision.allowed
    assert decision.reasons == (ReasonCode.HTML_UNPARSEABLE,)


def test_binary_served_as_html_is_unparseable_even_when_errors_are_ignored() -> None:
    import gzip

    body = gzip.compress(page(NOAI, "<p>" + "words " * 400 + "</p>").encode(), mtime=0)
    signals = ex(body)
    assert signals.error is not None and "not text" in signals.error
    decision = decide(body, on_signal_error="ignore")
    assert decision.reasons == (ReasonCode.HTML_UNPARSEABLE,)
    (result,) = [r for r in decision.evidence if ReasonCode.HTML_UNPARSEABLE in r.reasons]
    assert result.verdict.value == "error" and result.source == URL


def test_an_empty_or_blank_html_body_is_not_an_error() -> None:
    for body in (b"", b"   \n", b"<!-- only a comment -->"):
        assert ex(body).error is None
        assert decide(body).allowed, body


def test_utf16_bom_html_served_as_text_plain_is_sniffed_as_html() -> None:
    body = codecs.BOM_UTF16_LE + page(NOAI).encode("utf-16-le")
    assert html.is_html("text/plain", body)
    assert html.is_html(None, body)
    assert html.is_html("text/plain; charset=utf-16le", page(NOAI).encode("utf-16-le"))
    assert not decide(body, "text/plain").allowed


@pytest.mark.parametrize("ref", ["&#1;", "&#1", "&#x8;", "&#11;", "&#xFFFE;"])
def test_a_character_reference_to_a_control_character_is_read(ref: str) -> None:
    # lxml parses such a reference into the character, then refuses to store text holding it;
    # the page must still be read (kept when nothing opts out, excluded when a meta does).
    plain = page(body=f"<p>Price{ref} 10</p><div>more</div>").encode()
    signals = ex(plain)
    assert signals.error is None, signals.error
    assert "Price" in signals.text and "more" in signals.text
    assert decide(plain).allowed
    opted_out = page(head=NOAI, body=f"<p>Price{ref} 10</p>").encode()
    assert decide(opted_out).reasons == (ReasonCode.META_ROBOTS_NOAI,)
