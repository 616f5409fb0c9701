"""E-mail and phone redaction of a record's text (filters/redact.py)."""

from __future__ import annotations

import pytest

from filters.redact import EMAIL, PHONE, redact, region_guess

BOTH = ("email", "phone")


def test_no_kinds_leaves_text_unchanged_and_counts_nothing() -> None:
    text = "Mail ann@example.org or call +44 20 7946 0958."
    assert redact(text, ()) == (text, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ann@example.org today", f"write to {EMAIL} today"),
        ("Ann.Lee+news@mail.example.co.uk.", f"{EMAIL}."),
        ("<bo_x-1@sub.example.museum>", f"<{EMAIL}>"),
        ("a@b.org, c@d.org; e@f.org", f"{EMAIL}, {EMAIL}; {EMAIL}"),
        ("müller@straße.de", EMAIL),
        ("mailto:ann@example.org", f"mailto:{EMAIL}"),
    ],
)
def test_emails_are_replaced(text: str, expected: str) -> None:
    assert redact(text, ("email",))[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost",
        "a@b.c",
        "@handle on social",
        "price 5 @ 3.50",
        "ann [at] example [dot] org",  # obfuscated: a known miss
        "git@2.40",
    ],
)
def test_not_emails(text: str) -> None:
    assert redact(text, ("email",)) == (text, 0)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("Call +44 20 7946 0958 today", "US", f"Call {PHONE} today"),
        ("(212) 555-0147.", "US", f"{PHONE}."),
        ("212-555-0147", "US", PHONE),
        ("212.555.0147", "US", PHONE),
        ("+1 (212) 555-0147", "DE", PHONE),
        ("0049 30 12345678", "US", PHONE),
        ("Tel: 030 1234567", "DE", f"Tel: {PHONE}"),
        ("Tel:0301234567", "DE", f"Tel:{PHONE}"),
        ("+33 1 23 45 67 89", "US", PHONE),
        ("020 7946 0958", "GB", PHONE),
        ("Fax 212\u00a0555\u00a00147", "US", f"Fax {PHONE}"),
    ],
)
def test_phones_are_replaced(text: str, region: str, expected: str) -> None:
    assert redact(text, ("phone",), region) == (expected, 1)


@pytest.mark.parametrize(
    "text",
    [
        "released 2024-05-01 12:30",
        "on 01.05.2024, and 1/5/2024",
        "from 1999-2005",
        "2024-05-01T10:00:00Z",
        "price $1,299.99 or 1299.99 EUR or 1.299,99 €",
        "1,234,567,890 people",
        "version 3.12.4 and build 10.0.19045.3693",
        "ip 192.168.100.200",
        "ISBN 978-3-16-148410-0",
        "order 12345678",
        "Tel: 030 1234567",  # a German number on a US guess: a known miss
        "call 555",
    ],
)
def test_no_over_redaction(text: str) -> None:
    assert redact(text, BOTH, "US") == (text, 0)


def test_emails_before_phones_and_counts_added() -> None:
    text = "ann@example.org, +44 20 7946 0958, bo@example.org, (212) 555-0147"
    assert redact(text, BOTH, "US") == (f"{EMAIL}, {PHONE}, {EMAIL}, {PHONE}", 4)
    assert redact(text, ("phone",), "US")[1] == 2
    assert redact(text, ("email",), "US")[1] == 2


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'ssn'"):
        redact("x", ("ssn",))


@pytest.mark.parametrize(
    ("host", "language", "region"),
    [
        ("www.bbc.co.uk", None, "GB"),
        ("example.de", "en-US", "DE"),
        ("example.com", "de-AT", "AT"),
        ("example.com", "fr", "US"),
        ("example.org", None, "US"),
        ("127.0.0.1", None, "US"),
        ("example.eu", "pt-BR", "BR"),
    ],
)
def test_region_guess(host: str, language: str | None, region: str) -> None:
    assert region_guess(host, language) == region


def test_long_hostile_text_is_handled() -> None:
    text = ("9" * 40 + " ") * 2000 + "@" * 5000 + ".a" * 5000 + " ann@example.org"
    out, n = redact(text, BOTH)
    assert out.endswith(EMAIL) and n == 1
