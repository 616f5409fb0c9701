"""How an HTML body's bytes become text: the HTML Standard's encoding sniffing (SPEC.md §3.8).

Kept apart from ``html.py`` so each stays small. The order is the Standard's, with UTF-8 as the
default instead of a locale's guess:

1. a byte-order mark (UTF-8, UTF-16LE, UTF-16BE) wins over everything and is stripped;
2. else the HTTP ``charset`` parameter, when it is a label the Encoding Standard knows;
3. else the ``<meta>`` prescan of the first 1,024 bytes (only real ``<meta charset>`` and
   ``<meta http-equiv=content-type content="…charset=…">`` elements count; comments, other
   attributes' values and text do not). A meta naming UTF-16 means UTF-8, ``x-user-defined``
   means windows-1252, an unknown label (``utf-32``, say) is ignored;
4. else UTF-8. Bytes invalid in the chosen encoding become U+FFFD; decoding never fails.

Labels are resolved with ``webencodings`` (the Encoding Standard's label table) and the prescan
is html5lib's ``EncodingParser`` (the Standard's algorithm; html5lib is stable and used by
``lxml.html.html5parser``). The prescan only runs when the first 1,024 bytes contain the word
``charset`` at all: without it no meta can declare an encoding, and html5lib's byte-by-byte
scan is the one slow step of decoding.

A label of the Encoding Standard's ``replacement`` encoding (``iso-2022-kr``, ``hz-gb-2312``,
...) decodes a whole document to one U+FFFD: heed reports it as unreadable (``None``), so the
caller excludes the page instead of keeping bytes it never read.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

import webencodings
from html5lib._inputstream import EncodingParser

__all__ = ["PRESCAN_BYTES", "Decoded", "decode", "encoding_name", "http_charset"]

#: The prescan reads this many bytes (HTML Standard, "prescan a byte stream").
PRESCAN_BYTES = 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
#: Bytes below 0x20 but tab, LF and CR: kept by ``bytes.translate`` when it deletes the rest.
_NOT_C0 = bytes(range(0x20, 0x100)) + b"\t\n\r"
#: Encodings in which a byte below 0x20 is not always that control character.
_C0_EXACT_EXCLUDED = frozenset({"utf-16le", "utf-16be", "iso-2022-jp", "replacement"})


class Decoded(NamedTuple):
    """A body's text and where its encoding came from (``bom``, ``http``, ``meta``, ``default``)."""

    text: str
    encoding: str  # the Encoding Standard's name, e.g. "windows-1252"
    source: str
    #: Known to hold no U+FFFD, U+FFFE, U+FFFF, surrogate or C0 control but tab, LF, CR (when
    #: False it may still hold none: the caller looks).
    clean: bool = False


def http_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` value, unquoted, or None."""
    if not content_type or "charset" not in content_type.lower():
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").strip() or None
    return None


def _lookup(label: str | bytes | None) -> webencodings.Encoding | None:
    if label is None:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    return webencodings.lookup(label)


def encoding_name(label: str | None) -> str | None:
    """The Encoding Standard's name for ``label`` (``"latin1"`` -> ``"windows-1252"``), or None."""
    encoding = _lookup(label)
    return None if encoding is None else str(encoding.name)


def _prescan(head: bytes) -> webencodings.Encoding | None:
    if b"charset" not in head.lower():
        return None
    try:
        found = EncodingParser(head).getEncoding()
    except Exception:  # a prescan bug must not stop reading: fall through to UTF-8
        return None
    if found is None:
        return None
    if found.name in ("utf-16le", "utf-16be"):
        return webencodings.UTF8
    if found.name == "x-user-defined":
        return webencodings.lookup("windows-1252")
    return found


def _decode(body: bytes, encoding: webencodings.Encoding, source: str) -> Decoded:
    name = str(encoding.name)
    decode_with = encoding.codec_info.decode
    try:
        text: str = decode_with(body, "strict")[0]
    except UnicodeDecodeError:
        return Decoded(decode_with(body, "replace")[0], name, source)
    clean = name not in _C0_EXACT_EXCLUDED and not body.translate(None, _NOT_C0)
    if clean and not body.isascii():
        clean = "\ufffd" not in text and "\ufffe" not in text and "\uffff" not in text
    return Decoded(text, name, source, clean)


def decode(body: bytes, content_type: str | None) -> Decoded | None:
    """``body`` as text, sniffed as the module docstring says; None if no encoding can read it."""
    for bom, name in _BOMS:
        if body.startswith(bom) and (found := webencodings.lookup(name)) is not None:
            return _decode(body[len(bom) :], found, "bom")  # (a BOM's name always resolves)
    source = "http"
    encoding = _lookup(http_charset(content_type))
    if encoding is None:
        source = "meta"
        encoding = _prescan(body[:PRESCAN_BYTES])
    if encoding is None:
        return _decode(body, webencodings.UTF8, "default")
    if encoding.name == "replacement":
        return None
    return _decode(body, encoding, source)
