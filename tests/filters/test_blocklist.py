"""Domain blocklists (filters/blocklist.py) and their place in the engine: plain values only.

Parsing (comments, hosts files, wildcards, URLs, addresses, IDNA, hostile lines), matching (a
listed domain and its subdomains, never a name that merely ends alike), and the consent gate
and ``decide_pre_fetch``: a listed host is denied ``blocklist.listed`` before any step that
would touch it (no address check, no site documents), for every purpose and mode, and
``on_signal_error = "ignore"`` cannot lift it.
"""

from __future__ import annotations

import hashlib

import pytest

from filters import Mode, Purpose, ReasonCode, Signal, Stage, Verdict
from filters.blocklist import EMPTY_BLOCKLIST, Blocklist, normalize_host, parse_domain_list
from filters.engine import EngineConfig, Evaluator, Gate, decide_pre_fetch

from .test_gate import NOW, World, _page, _redirect, _site

A = "https://a.example"
B = "https://b.example"


def _bl(text: str | bytes, name: str = "list.txt") -> Blocklist:
    return Blocklist((parse_domain_list(text, name),))


# --------------------------------------------------------------------------- parsing


def test_comments_blank_lines_case_and_trailing_dots() -> None:
    d = parse_domain_list(
        "# a heading\n\n  Example.COM   # trailing comment\nother.example.\n\t\n#x.example\n",
        "l",
    )
    assert d.entries == {"example.com", "other.example"}
    assert d.skipped == 0


def test_wildcard_and_leading_dot_mean_the_bare_domain() -> None:
    d = parse_domain_list("*.wild.example\n.dot.example\n", "l")
    assert d.entries == {"wild.example", "dot.example"}


def test_hosts_file_lines_list_their_names_and_not_the_machine() -> None:
    text = (
        "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n0.0.0.0 0.0.0.0\n"
        "0.0.0.0 ads.example\n127.0.0.1  a.example  b.example # two\n"
        "255.255.255.255 broadcasthost\n"
    )
    d = parse_domain_list(text, "hosts")
    assert d.entries == {"ads.example", "a.example", "b.example"}
    assert d.skipped == 0


def test_urls_adblock_rules_and_addresses() -> None:
    text = (
        "https://url.example/some/page?q=1\n||adblock.example^\n10.1.2.3\n"
        "[2001:DB8::1]\n2001:db8:0:0::2\n"
    )
    d = parse_domain_list(text, "l")
    assert d.entries == {"url.example", "adblock.example", "10.1.2.3", "2001:db8::1", "2001:db8::2"}


def test_internationalised_names_are_listed_in_both_idna_forms() -> None:
    d = parse_domain_list("straße.de\nBÜCHER.example\n", "l")
    assert {"strasse.de", "xn--strae-oqa.de", "xn--bcher-kva.example"} <= d.entries
    assert "straße.de" not in d.entries


@pytest.mark.parametrize(
    "line",
    [
        "bad..name",
        "a.*.example",
        "*",
        "-lead.example",
        "trail-.example",
        "999.1.1.1",  # all digits but not an address
        "ftp://nope.example/",
        "x" * 64 + ".example",  # a label over 63 characters
        ("abc." * 70) + "example",  # a name over 253 characters
        "two words",
        "||adblock.example^$third-party",
        "exa mple\x00.com",
        "\ufffd.example",
    ],
)
def test_junk_is_skipped_and_counted_never_raised(line: str) -> None:
    d = parse_domain_list(f"good.example\n{line}\n", "l")
    assert d.entries == {"good.example"}
    assert d.skipped == 1
    assert d.diagnostics and d.diagnostics[0].startswith("line 2: ")


def test_bytes_that_are_not_utf8_spoil_their_line_only() -> None:
    d = parse_domain_list(b"\xef\xbb\xbfgood.example\r\n\xff\xfe.example\r\nalso.example\r\n", "l")
    assert d.entries == {"good.example", "also.example"}
    assert d.skipped == 1


def test_sha256_is_of_the_bytes_and_an_empty_list_lists_nothing() -> None:
    raw = b"# nothing here\n\n"
    d = parse_domain_list(raw, "empty.txt")
    assert d.sha256 == hashlib.sha256(raw).hexdigest()
    assert d.entries == frozenset() and d.skipped == 0
    assert not Blocklist((d,)) and Blocklist((d,)).match("any.example") is None


def test_diagnostics_are_bounded_but_every_bad_line_is_counted() -> None:
    d = parse_domain_list("bad..x\n" * 5000, "l")
    assert d.skipped == 5000 and len(d.diagnostics) == 20


def test_a_huge_line_is_junk() -> None:
    d = parse_domain_list("a-" * 500_000 + "\n" + "x" * 1_000_000, "l")
    assert d.entries == frozenset() and d.skipped == 2


# --------------------------------------------------------------------------- matching


def test_a_listed_domain_lists_its_subdomains_not_names_ending_alike() -> None:
    bl = _bl("a.example\n")
    assert bl.match("a.example") == ("a.example", "list.txt")
    assert bl.match("www.a.example") == ("a.example", "list.txt")
    assert bl.match("x.y.z.a.example") == ("a.example", "list.txt")
    assert bl.match("ba.example") is None
    assert bl.match("example") is None
    assert bl.match("a.example.org") is None


def test_the_most_specific_suffix_is_reported() -> None:
    bl = _bl("example\nsub.a.example\n")
    assert bl.match("x.sub.a.example") == ("sub.a.example", "list.txt")
    assert bl.match("b.example") == ("example", "list.txt")


def test_hosts_are_normalised_as_entries_are() -> None:
    bl = _bl("straße.de\nbücher.example\n10.0.0.9\n2001:db8::1\n")
    for host in ("WWW.Strasse.DE.", "xn--strae-oqa.de", "straße.de", "a.BÜCHER.example"):
        assert bl.match(host) is not None, host
    assert bl.match("10.0.0.9") == ("10.0.0.9", "list.txt")
    assert bl.match("[2001:0db8:0::1]") == ("2001:db8::1", "list.txt")
    assert bl.match_url("http://[2001:db8::1]:8080/x") == ("2001:db8::1", "list.txt")
    assert bl.match_url("https://www.STRASSE.de./p") == ("strasse.de", "list.txt")


def test_an_address_lists_only_itself() -> None:
    bl = _bl("1.2.3.4\n")
    assert bl.match("1.2.3.4") is not None
    assert bl.match("11.2.3.4") is None and bl.match("1.2.3.45") is None
    assert bl.match_url("http://1.2.3.4:81/") == ("1.2.3.4", "list.txt")


def test_the_first_list_naming_a_host_is_its_source() -> None:
    bl = Blocklist((parse_domain_list("x.example\n", "one"), parse_domain_list("a.example", "two")))
    assert bl.match("w.a.example") == ("a.example", "two")
    assert Blocklist(
        (parse_domain_list("a.example", "one"), parse_domain_list("a.example", "two"))
    ).match("a.example") == ("a.example", "one")


def test_unusable_hosts_never_match_and_never_raise() -> None:
    bl = _bl("a.example\n")
    for host in ("", ".", "a..example", "exa mple", "\x00"):
        assert bl.match(host) is None
    assert bl.match_url("http://[::1") is None and bl.match_url("not a url") is None
    assert normalize_host("..") == ()


def test_reprs_stay_short_for_huge_lists() -> None:
    bl = _bl("\n".join(f"d{i}.example" for i in range(100_000)))
    assert len(repr(bl)) < 100 and len(repr(bl.lists[0])) < 100
    assert len(repr(EngineConfig(blocklist=bl))) < 2000


# --------------------------------------------------------------------------- the engine


def _cfg(**kw: object) -> EngineConfig:
    return EngineConfig(blocklist=_bl("b.example\n", "infringing.txt"), **kw)  # type: ignore[arg-type]


def _is_listed(decision: object, entry: str = "b.example") -> None:
    assert not decision.allowed  # type: ignore[attr-defined]
    assert decision.stage is Stage.PRE_FETCH  # type: ignore[attr-defined]
    assert decision.reasons == (ReasonCode.BLOCKLIST_LISTED,)  # type: ignore[attr-defined]
    (result,) = decision.evidence  # type: ignore[attr-defined]
    assert (result.signal, result.verdict) == (Signal.BLOCKLIST, Verdict.DENY)
    assert (result.raw, result.source) == (entry, "infringing.txt")


def test_the_gate_denies_a_listed_host_before_any_step() -> None:
    world = World()
    gate = Gate(Evaluator(_cfg()), f"{B}/p", now=NOW)
    done = world.drive(gate)
    assert world.log == ["Done"]  # no address check, no site documents, no registry
    _is_listed(done.decision)
    assert (done.url, done.final_url, done.http_status) == (f"{B}/p", f"{B}/p", None)
    assert gate.site is None


def test_the_gate_denies_a_subdomain_and_lets_others_through() -> None:
    world = World()
    world.sites["https://www.b.example"] = _site("https://www.b.example")
    done = world.drive(Gate(Evaluator(_cfg()), "https://www.b.example/x", now=NOW))
    _is_listed(done.decision)
    world = World()
    world.pages[f"{A}/p"] = [_page(f"{A}/p")]
    done = world.drive(Gate(Evaluator(_cfg()), f"{A}/p", now=NOW))
    assert done.decision.allowed
    assert world.log == ["CheckAddress", "NeedSite", "NeedRegistry", "Fetch", "Done"]


def test_a_redirect_into_a_listed_host_is_refused_before_its_address() -> None:
    world = World()
    world.pages[f"{A}/go"] = [_redirect(f"{A}/go", f"{B}/landing")]
    gate = Gate(Evaluator(_cfg()), f"{A}/go", now=NOW)
    done = world.drive(gate)
    assert world.log == ["CheckAddress", "NeedSite", "NeedRegistry", "Fetch", "Follow", "Done"]
    _is_listed(done.decision)
    assert (done.url, done.final_url, done.http_status) == (f"{A}/go", f"{B}/landing", 302)


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("on_error", ["deny", "ignore"])
def test_every_purpose_and_mode_and_ignore_cannot_lift_it(
    purpose: Purpose, mode: Mode, on_error: str
) -> None:
    cfg = _cfg(purpose=purpose, mode=mode, on_signal_error=on_error)
    site = _site(B)  # a site that allows everything
    _is_listed(decide_pre_fetch(site, f"{B}/p", cfg, now=NOW))
    _is_listed(Evaluator(cfg).decide_pre_fetch(site, f"{B}/p", now=NOW))
    _is_listed(World().drive(Gate(Evaluator(cfg), f"{B}/p", now=NOW)).decision)


def test_decide_pre_fetch_equals_the_gate_and_ignores_other_urls() -> None:
    cfg = _cfg()
    site = _site(B, b"User-agent: *\nDisallow: /\n")
    plain = decide_pre_fetch(site, f"{B}/p", cfg, now=NOW)
    gated = World().drive(Gate(Evaluator(cfg), f"{B}/p", now=NOW)).decision
    assert plain == gated
    site_a = _site(A)
    other = decide_pre_fetch(site_a, f"{A}/p", cfg, now=NOW)
    assert other.allowed
    assert other == decide_pre_fetch(site_a, f"{A}/p", EngineConfig(), now=NOW)


def test_no_blocklist_is_the_default() -> None:
    assert EngineConfig().blocklist is EMPTY_BLOCKLIST
    world = World()
    world.pages[f"{B}/p"] = [_page(f"{B}/p")]
    assert world.drive(Gate(Evaluator(EngineConfig()), f"{B}/p", now=NOW)).decision.allowed


def test_an_ipv4_address_spelled_otherwise_is_caught_or_refused() -> None:
    from filters.blocklist import Blocklist, parse_domain_list
    from filters.urls import check_url

    listed = Blocklist((parse_domain_list("127.0.0.1\n10.0.0.1\n", "list"),))
    # IPv4-mapped and IPv4-compatible IPv6 literals reach the IPv4 host: matched as it
    for url in (
        "http://[::ffff:127.0.0.1]:8080/p",
        "http://[::ffff:7f00:1]/p",
        "http://[::10.0.0.1]/",
    ):
        assert listed.match_url(url) is not None, url
    assert listed.match_url("http://[::1]/") is None
    # numeric forms an IPv4 parser reads (hex, short) are not requestable at all
    for url in ("http://0x7f.0.0.1/p", "http://127.0.0.0x1/p", "http://127.1/p", "http://a.0x1b/"):
        assert check_url(url) is not None, url
    assert check_url("http://127.0.0.1/p") is None and check_url("http://a.example/") is None
