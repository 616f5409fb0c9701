"""Replacing e-mail addresses and phone numbers in a record's text (``[privacy] redact``).

``redact(text, kinds, region)`` returns the text with each e-mail address replaced by
``[email]`` and each phone number by ``[phone]``, and how many it replaced. It runs on the
text a record is written with, after the page's consent decision: it never changes a decision.
``region_guess(host, language)`` names the country whose national number formats are tried.

How (the trade-off, measured in docs/output.md): Google's ``libphonenumber`` (the
``phonenumbers`` port) decides what is a phone number, but its ``PhoneNumberMatcher`` costs
10–20 ms on a 5 KB page, most of it scanning text that holds no number. Here a regular
expression finds the candidates (runs of digits with the separators phone numbers use, 7 to 15
digits, not a date, not preceded or followed by a letter, digit, ``.``, ``,``, ``@``, ``/``
or ``-``), and ``phonenumbers`` keeps those that are valid numbers: international ones
(``+``/``00``) for any country, national ones for ``region``.

Known misses and over-reach (documented in docs/output.md):

* missed: obfuscated addresses (``ann [at] example [dot] org``), numbers written in words,
  numbers glued to text (``Tel:0301234567`` is found; ``tel0301234567`` is not), several
  numbers run together with only spaces between them (over 15 digits: kept whole), national
  numbers of another country than ``region``, numbers with extensions keep the extension;
* over-reach: a 7–15 digit run that happens to be a valid number for ``region`` (an order
  number ``2125550147`` on a ``US`` guess) is replaced. Dates (``2024-05-01``,
  ``01.05.2024``), prices (``$1,299.99``), versions (``3.12.4``), IPv4 addresses and
  ISBN-13s are never replaced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import phonenumbers

__all__ = ["EMAIL", "PHONE", "redact", "region_guess"]

EMAIL = "[email]"
PHONE = "[phone]"

# RFC 5321 dot-atoms in practice: letters, digits and ._%+- before the @ (no leading dot),
# a dotted host name with a letter-only top-level label after it. Unicode letters count.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[^\W_](?:[\w%+-]|\.(?!\.)){0,63}@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-]|\.[^\W_])"
)
_PHONE = re.compile(r"(?<![\w.,@/+-])(?:\+|\b00)?\(?\d[\d \u00a0().\-/]{5,24}\d(?![\w@/]|[.,-]\d)")
_DATE = re.compile(
    r"\b(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}"
    r"|(?:1[89]|20)\d\d ?[-/] ?(?:1[89]|20)\d\d)\b"
)
_NON_DIGIT = re.compile(r"\D")
_DOTTED = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_ISBN = re.compile(r"97[89](?:[- ]?\d){10}")
_DEFAULT_REGION = "US"


@lru_cache(maxsize=512)
def region_guess(host: str, language: str | None) -> str:
    """The region for national phone formats: the host's country-code TLD, else the
    language tag's region (``en-GB``), else ``US``."""
    tld = host.rstrip(".").rsplit(".", 1)[-1].upper()
    tld = {"UK": "GB"}.get(tld, tld)
    if len(tld) == 2 and tld.isalpha() and tld in _REGIONS:
        return tld
    if language:
        for part in language.split("-")[1:]:
            if len(part) == 2 and part.upper() in _REGIONS:
                return part.upper()
    return _DEFAULT_REGION


_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def _is_phone(candidate: str, region: str) -> bool:
    digits = _NON_DIGIT.sub("", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    if _DATE.search(candidate) or _DOTTED.fullmatch(candidate) or _ISBN.fullmatch(candidate):
        return False
    if candidate.startswith("00"):  # the international prefix of most of the world
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def redact(text: str, kinds: Sequence[str], region: str = _DEFAULT_REGION) -> tuple[str, int]:
    """``text`` with the ``kinds`` (``"email"``, ``"phone"``) replaced, and the count.

    Unknown kinds raise ``ValueError`` (the config refuses them before a crawl starts).
    """
    unknown = [k for k in kinds if k not in ("email", "phone")]
    if unknown:
        raise ValueError(f"cannot redact {unknown[0]!r}: choose from email, phone")
    count = 0
    if "email" in kinds and "@" in text:
        text, n = _EMAIL.subn(EMAIL, text)
        count += n
    if "phone" in kinds:
        found = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal found
            candidate = match.group()
            core = candidate.rstrip(" \u00a0(./-")
            if _is_phone(core, region):
                found += 1
                return PHONE + candidate[len(core) :]
            return candidate

        text = _PHONE.sub(replace, text)
        count += found
    return text, count
