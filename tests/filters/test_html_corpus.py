"""A corpus of real-world-like pages in every encoding the HTML Standard allows (SPEC.md §3.8).

Pages are generated (hypothesis text, control characters included) and encoded in each
Encoding Standard encoding Python can encode (``webencodings``' label table), declared by HTTP
``charset``, by ``<meta>`` or by a BOM. Each carries an opt-out at one of several positions,
and the real engine (``inspect_response`` + ``decide_post_fetch``) must exclude every one; the
same pages without the opt-out must all be kept.
"""

from __future__ import annotations

import codecs

import pytest
import webencodings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filters import FetchOutcome, Headers, ReasonCode
from filters.engine import (
    EngineConfig,
    SiteSignals,
    decide_post_fetch,
    decide_pre_fetch,
    inspect_response,
)
from filters.robots import policy_from_fetch

URL = "https://blog.example/posts/42"
CFG = EngineConfig(ai_agents=("GPTBot", "CCBot"))
SITE = SiteSignals(
    policy_from_fetch(FetchOutcome(url="https://blog.example/robots.txt", status=404))
)
PRE = decide_pre_fetch(SITE, URL, CFG)

OPT_OUTS = {
    "robots-noai": ('<meta name="robots" content="noai">', ReasonCode.META_ROBOTS_NOAI),
    "tdm-reservation": ('<meta name="tdm-reservation" content="1">', ReasonCode.TDMREP_RESERVED),
    "gptbot-noai": ('<meta name="GPTBot" content="noai">', ReasonCode.META_ROBOTS_NOAI),
}
POSITIONS = ("head", "body-start", "body-end", "after-html", "before-html")
DECLARED = ("http", "meta", "bom")

#: Every Encoding Standard encoding Python has an encoder for; UTF-16 only with a BOM or the
#: HTTP header (a meta cannot declare it), the replacement encoding and x-user-defined never.
ENCODINGS = sorted(
    e for e in set(webencodings.LABELS.values()) if e not in ("replacement", "x-user-defined")
)


def _encoder(name: str) -> str | None:
    codec = webencodings.lookup(name).codec_info.name
    try:
        codecs.lookup(codec).encode("a")
    except LookupError:
        return None
    return codec


_CODECS = {name: c for name in ENCODINGS if (c := _encoder(name)) is not None}
_BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16le": codecs.BOM_UTF16_LE, "utf-16be": codecs.BOM_UTF16_BE}

# Text a real page holds, in scripts most encodings cover, plus controls and odd characters.
_WORDS = [
    "news", "caf\u00e9", "na\u00efve", "\u00fcber", "stra\u00dfe",
    "\u0436\u0443\u0440\u043d\u0430\u043b", "\u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
    "\u65e5\u672c\u8a9e", "\u4e2d\u6587", "\ud55c\uad6d\uc5b4", "\u05e2\u05d1\u05e8\u05d9\u05ea",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u0e44\u0e17\u0e22", "ti\u1ebfng", "&amp;", "&lt;tag&gt;", "1 < 2", "a > b", "\u20ac5",
    "\u201cquoted\u201d", "\u2014", "\x0c", "\x0b", "\x01", "\x1b", "\x00", "\x7f",
]  # fmt: skip
_TEXT = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.text(st.characters(codec="ascii"), max_size=12)),
    min_size=1,
    max_size=40,
).map(" ".join)


def _encodable(text: str, codec: str) -> str:
    return text.encode(codec, "ignore").decode(codec, "ignore") if codec else text


def build(
    title: str, paragraphs: list[str], name: str, declared: str, opt_out: str | None, where: str
) -> tuple[bytes, str]:
    """One page as (body, Content-Type) in encoding ``name`` declared the ``declared`` way."""
    codec = _CODECS[name]
    meta = f'<meta charset="{name}">' if declared == "meta" else ""
    tag = opt_out or ""
    parts = [
        tag if where == "before-html" else "",
        "<!DOCTYPE html>\n<html lang=en>\n<head>",
        meta,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        '<link rel="stylesheet" href="/s.css"><script>var x = "<p>" + 1;</script>',
        tag if where == "head" else "",
        "</head>\n<body class=post>",
        tag if where == "body-start" else "",
        "<nav><a href='/'>Home</a> | <a href=\"/about\">About</a></nav><article>",
        *(f"<p>{p}</p>\n" for p in paragraphs),
        "</article><!-- footer --><footer>\u00a9 2024</footer>",
        tag if where == "body-end" else "",
        "</body>\n</html>\n",
        tag if where == "after-html" else "",
    ]
    text = _encodable("".join(parts), codec)
    body = text.encode(codec, "ignore")
    if declared == "bom":
        body = _BOMS[name] + body
    ctype = f"text/html; charset={name}" if declared == "http" else "text/html"
    return body, ctype


def _cases() -> list[tuple[str, str]]:
    cases = []
    for name in _CODECS:
        for declared in DECLARED:
            if declared == "bom" and name not in _BOMS:
                continue
            if declared == "meta" and name.startswith("utf-16"):
                continue  # a meta cannot declare UTF-16 (it means UTF-8)
            cases.append((name, declared))
    return cases


def decide(body: bytes, ctype: str):
    response = FetchOutcome(
        url=URL, status=200, headers=Headers({"content-type": ctype}), body=body
    )
    return decide_post_fetch(PRE, SITE, inspect_response(response, CFG), CFG)


def test_the_corpus_covers_the_standard() -> None:
    assert len(_CODECS) >= 35  # the Encoding Standard has 39 text encodings
    for must in ("utf-8", "utf-16le", "utf-16be", "windows-1252", "shift_jis", "euc-kr",
                 "gb18030", "big5", "iso-2022-jp", "iso-8859-2", "koi8-r"):  # fmt: skip
        assert must in _CODECS, must


@pytest.mark.parametrize(("name", "declared"), _cases())
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, paragraphs=st.lists(_TEXT, min_size=1, max_size=6), data=st.data())
def test_every_encoding_and_position_excludes_an_opted_out_page(
    name: str, declared: str, title: str, paragraphs: list[str], data: st.DataObject
) -> None:
    kept_body, ctype = build(title, paragraphs, name, declared, None, "head")
    kept = decide(kept_body, ctype)
    assert kept.allowed, (name, declared, kept.reasons)
    for key, (tag, reason) in OPT_OUTS.items():
        where = data.draw(st.sampled_from(POSITIONS), label=f"position of {key}")
        body, ctype = build(title, paragraphs, name, declared, tag, where)
        decision = decide(body, ctype)
        assert not decision.allowed, (name, declared, key, where)
        assert reason in decision.reasons, (name, declared, key, where, decision.reasons)


@pytest.mark.parametrize("where", POSITIONS)
@pytest.mark.parametrize("key", sorted(OPT_OUTS))
def test_every_position_of_every_opt_out_in_utf8_and_windows_1252(key: str, where: str) -> None:
    tag, reason = OPT_OUTS[key]
    paragraphs = ["Caf\u00e9 \x0c au lait", "\x01 control \x1b chars \x0b"]
    for name, declared in (("utf-8", "meta"), ("windows-1252", "http"), ("utf-16le", "http")):
        body, ctype = build("T\x0bitle", paragraphs, name, declared, tag, where)
        decision = decide(body, ctype)
        assert reason in decision.reasons, (name, declared)
        assert decide(*build("T", paragraphs, name, declared, None, where)).allowed
