"""Seeded mutation fuzzer for every parser heed reads the web with (prints figures).

Each driver feeds mutated inputs to one parser and checks its contract:

* no exception escapes except the documented one (``SignalParseError`` from ``aipref.parse``,
  ``ConfigError`` from ``crawler.config.load_config``; every other parser never raises);
* a parse that fails excludes: an unreadable document is an error/deny state whose verdict
  excludes, never an allow; a failed Content-Usage value is "none" with ``aipref.parse-error``
  (SPEC.md §3.3), never a grant;
* what could not be read never hides what could: a deny planted next to the mutated input
  still denies: a robots.txt/ai.txt group at the end (every input) and at the start (one
  input in four, so that a BOM is also fuzzed first), an ``X-Robots-Tag`` line, a ``noai``
  at the end of an unscoped line, a ``Content-Signal`` pair, a robots meta at the start of a
  page (one input in four), a first ``X-Robots-Tag`` line of a headers file; a tdmrep.json
  whose first rule reserves the whole site denies.

Inputs are the seeds (from ``tests/vectors/``, ``configs/`` and a few built-in real-web
shapes) mutated one to four times: bit flips, random bytes, control characters, NUL,
U+FFFE/U+FFFF, lone surrogates, no-break and other Unicode spaces, BOMs, huge numbers, deep
nesting, runs of separators, splices of two seeds, truncation, and re-encoding of the whole
input (UTF-16 LE/BE, Latin-1, with and without BOM). The random generator is seeded, so a run
is reproducible. No coverage guidance: this is for throughput (see docs/benchmarks.md).

Usage: python bench/fuzz.py [--inputs 1000000] [--parser NAME] [--seed 0] [--samples 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filters import aipref, aitxt, content_signal, robots, rsl, tdmrep, xrobots  # noqa: E402
from filters._rsl_xml import read_document  # noqa: E402
from filters.errors import ConfigError, SignalParseError  # noqa: E402
from filters.model import DocState, FetchOutcome, Purpose, Verdict  # noqa: E402
from filters.reasons import ReasonCode  # noqa: E402
from filters.robots._grammar import ExtensionRule  # noqa: E402

VECTORS = ROOT / "tests" / "vectors"
HOST = "www.example.com"
SITE = f"https://{HOST}"
AGENTS = robots.default_ai_agents()
TOKEN = "heedbot"
#: URLs every document is asked about (simple, query, escapes, non-ASCII, //, robots.txt).
URLS = (
    f"{SITE}/",
    f"{SITE}/private/page.html",
    f"{SITE}/search?q=a%2Fb&x=%E2%82%AC",
    f"{SITE}//double/slash",
    f"{SITE}/caf\u00e9/\u00fcber?\u00a0",
    f"{SITE}/robots.txt",
    "https://OTHER.example.net:8443/a/b;c",
)


class ContractViolation(Exception):
    """The parser answered, but its answer breaks the contract."""


def violated(message: str) -> ContractViolation:
    return ContractViolation(message)


# --- mutation -------------------------------------------------------------------------------

_SPECIAL = (
    b"\x00",
    b"\r",
    b"\n",
    b"\r\n",
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\x1b",
    b"\x7f",
    b"\x85",
    "\ufffe".encode(),
    "\uffff".encode(),
    b"\xed\xa0\x80",  # a lone surrogate, as CESU bytes
    "\u00a0".encode(),
    "\u2002".encode(),
    "\u2028".encode(),
    "\u3000".encode(),
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xc0\xaf",  # overlong "/"
    b"%",
    b"%00",
    b"%2F",
    b"%C3%A9",
    b"*",
    b"$",
    b"#",
    b'"',
    b"'",
    b"<",
    b">",
    b"&",
    b";",
    b":",
    b",",
    b"=",
    b"\\",
)
_NUMBERS = (
    b"9" * 400,
    b"1e999999",
    b"-1e999999",
    b"NaN",
    b"Infinity",
    b"-0",
    b"18446744073709551616",
    b"0x7fffffff",
    b"1" * 30 + b"." + b"1" * 30,
)


def _nesting(rng: random.Random) -> bytes:
    depth = rng.choice((64, 300, 1200, 20_000))
    opener, closer = rng.choice(
        ((b"[", b"]"), (b'{"a":', b"}"), (b"<a>", b"</a>"), (b"(", b")"), (b"<div>", b""))
    )
    return opener * depth + (closer * depth if rng.random() < 0.5 else b"")


def _reencode(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", "replace")
    codec = rng.choice(("utf-16-le", "utf-16-be", "utf-16", "latin-1", "utf-32", "cp1252"))
    encoded = text.encode(codec, "replace")
    if codec in ("utf-16-le", "utf-16-be") and rng.random() < 0.5:
        encoded = ("\ufeff".encode(codec)) + encoded
    return encoded


class Mutator:
    """Seeded byte-level mutations of seed inputs (plus a per-parser word list)."""

    def __init__(self, seeds: Sequence[bytes], words: Sequence[bytes], seed: int) -> None:
        self.seeds = [s for s in seeds] or [b""]
        self.words = tuple(words) or (b"x",)
        self.rng = random.Random(seed)

    def __call__(self) -> bytes:
        rng = self.rng
        data = bytearray(rng.choice(self.seeds))
        if rng.random() < 0.05:
            return bytes(data)
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            data = self._once(data)
        return bytes(data)

    def _pos(self, data: bytearray) -> int:
        return self.rng.randint(0, len(data))

    def _once(self, data: bytearray) -> bytearray:
        rng = self.rng
        op = rng.randrange(13)
        if op == 0 and data:  # bit flips
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # random bytes
            i = self._pos(data)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op in (2, 3):  # control characters, NUL, U+FFFE, Unicode spaces ...
            i = self._pos(data)
            data[i:i] = rng.choice(_SPECIAL) * rng.choice((1, 1, 1, 2, 8))
        elif op == 4:  # huge numbers
            i = self._pos(data)
            data[i:i] = rng.choice(_NUMBERS)
        elif op == 5:  # deep nesting
            i = self._pos(data)
            data[i:i] = _nesting(rng)
        elif op == 6 and data:  # delete a range
            i = rng.randrange(len(data))
            del data[i : i + rng.randint(1, 64)]
        elif op == 7 and data:  # duplicate a range
            i = rng.randrange(len(data))
            chunk = data[i : i + rng.randint(1, 64)]
            j = self._pos(data)
            data[j:j] = chunk * rng.choice((1, 2, 50))
        elif op == 8:  # splice another seed
            other = rng.choice(self.seeds)
            i = self._pos(data)
            j = rng.randint(0, len(other))
            data[i:] = other[j:] if rng.random() < 0.5 else other[j:] + data[i:]
        elif op == 9 and data:  # truncate
            del data[rng.randrange(len(data)) :]
        elif op == 10:  # the parser's own words
            i = self._pos(data)
            data[i:i] = rng.choice(self.words)
        elif op == 11:  # runs of separators
            i = self._pos(data)
            data[i:i] = rng.choice((b",", b";", b" ", b"\n", b":", b"=")) * rng.choice((70, 300))
        elif op == 12 and rng.random() < 0.3:  # odd encodings of the whole input
            data = bytearray(_reencode(bytes(data), rng))
        elif data:  # case flips
            i = rng.randrange(len(data))
            data[i : i + 16] = bytes(data[i : i + 16]).swapcase()
        return data


# --- seeds ----------------------------------------------------------------------------------


def _json(name: str) -> object:
    return json.loads((VECTORS / name).read_text("utf-8"))


def _header_values() -> dict[str, list[str]]:
    """Header values of the vector files: Content-Usage, Content-Signal, tdm-reservation."""
    usage: list[str] = []
    signal: list[str] = []
    tdm: list[str] = []
    for name in ("aipref_vocab.json", "aipref_attach.json"):
        data = _json(name)
        assert isinstance(data, dict)
        for key in ("cases", "header_cases"):
            for case in data.get(key, []):
                usage += case.get("values", [])
        for case in data.get("robots_cases", []):
            usage += [value for _, value in case["agent_rules"] + case["star_rules"]]
    data = _json("content_signal_cloudflare.json")
    assert isinstance(data, dict)
    for case in data["header_cases"]:
        signal += case["values"]
    for case in data["robots_cases"]:
        signal += [value for _, value in case["agent_rules"] + case["star_rules"]]
    for case in _json("tdmrep_examples.json"):  # type: ignore[union-attr]
        tdm += case.get("header_reservation", [])
    return {"usage": usage, "signal": signal, "tdm": tdm}


_XROBOTS_VALUES = (
    "noindex, nofollow",
    "noai, noimageai",
    "googlebot: noindex",
    "GPTBot: noai",
    "heedbot: noml, noarchive",
    "unavailable_after: 25 Jun 2010 15:00:00 PST",
    "max-snippet:-1, max-image-preview:large, max-video-preview:-1",
    "none",
    "otherbot: noindex, noai",
    "index, follow",
)

_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A post</title>'
    '<meta name="robots" content="{robots}"><link rel="license" href="{lic}">'
    '<meta name="tdm-reservation" content="{tdm}">'
    '<script type="application/ld+json">{{"@context":"https://schema.org","license":"{lic}"}}'
    '</script></head><body><h1>Hello</h1><p>Some text &amp; more <a href="/next">next</a>'
    "</p></body></html>"
)


def robots_seeds() -> list[bytes]:
    cases = _json("robots_reference_cases.json")
    assert isinstance(cases, list)
    seeds = {c["robots"].encode("utf-8") for c in cases}
    usage = _header_values()
    lines = [f"Content-Usage: {v}" for v in usage["usage"][:20]]
    lines += [f"Content-Signal: {v}" for v in usage["signal"]]
    seeds.add(("User-agent: *\n" + "\n".join(lines) + "\nDisallow: /private/\n").encode())
    return sorted(seeds)


def tdmrep_seeds() -> list[bytes]:
    cases = _json("tdmrep_examples.json")
    assert isinstance(cases, list)
    return sorted({json.dumps(c["file"]).encode() for c in cases if "file" in c})


def rsl_seeds() -> list[bytes]:
    cases = _json("rsl_examples.json")
    assert isinstance(cases, list)
    return sorted({c["xml"].encode("utf-8") for c in cases})


def html_seeds() -> list[bytes]:
    licences = _json("license_cases.json")
    assert isinstance(licences, list)
    tdm = _header_values()["tdm"] or ["1"]
    seeds = []
    for i, (url, _) in enumerate(licences):
        robots_value = _XROBOTS_VALUES[i % len(_XROBOTS_VALUES)]
        page = _PAGE.format(robots=robots_value, lic=url, tdm=tdm[i % len(tdm)])
        seeds.append(page.encode("utf-8"))
    return seeds


def header_file_seeds() -> list[bytes]:
    values = _header_values()
    seeds = []
    for i, usage in enumerate(values["usage"]):
        signal = values["signal"][i % len(values["signal"])]
        xrt = _XROBOTS_VALUES[i % len(_XROBOTS_VALUES)]
        block = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"X-Robots-Tag: {xrt}\r\nContent-Usage: {usage}\r\nContent-Signal: {signal}\r\n"
            f'Link: <https://creativecommons.org/licenses/by/4.0/>; rel="license"\r\n\r\n'
        )
        seeds.append(block.encode("latin-1", "replace"))
    return seeds


def config_seeds() -> list[bytes]:
    paths = [ROOT / "configs" / "example.toml", ROOT / "configs" / "demo.toml"]
    return [p.read_bytes() for p in paths if p.exists()]


# --- contracts ------------------------------------------------------------------------------


def _check_robots_like(
    policy: robots.RobotsPolicy, url: str, result_verdict: Verdict, raw: str | None
) -> None:
    if result_verdict is Verdict.DENY and (raw is None or "allow" not in raw.lower()):
        raise violated(f"deny without a Disallow line as raw: {raw!r}")


_PLANT_HEAD = b"User-agent: heedbot\nDisallow: /heed-planted-head\n"
_PLANT_TAIL = b"\nUser-agent: heedbot\nDisallow: /heed-planted-tail\n"


def _longest_allow(policy: robots.RobotsPolicy | aitxt.AitxtPolicy, agent: str) -> int:
    group = policy.book.resolve(agent)
    if group is None:
        return 0
    return max((len(r.pattern) for r in group.matcher.rules if r.allow), default=0)


def _planted_denies(
    policy: robots.RobotsPolicy | aitxt.AitxtPolicy,
    evaluate: Callable[..., object],
    path: str,
) -> None:
    if _longest_allow(policy, TOKEN) >= len(path) - 2:
        return  # an Allow as long as the planted rule may win: RFC 9309 says so
    result = evaluate(policy, SITE + path, TOKEN)
    if result.verdict is not Verdict.DENY:  # type: ignore[attr-defined]
        raise violated(f"planted Disallow for {path} not honoured")


def check_robots(data: bytes) -> None:
    # The body with a planted group at its end, read as fetched from SITE's host; one input
    # in four is also read with a planted group in front (a BOM must stay first otherwise).
    policy = robots.parse(data + _PLANT_TAIL, host=HOST)
    if policy.state is not DocState.OK:
        raise violated(f"a 2xx body gave state {policy.state}")
    for url in URLS:
        result = robots.evaluate(policy, url, TOKEN)
        if result.verdict not in (Verdict.NONE, Verdict.DENY):
            raise violated(f"verdict {result.verdict}")
        if result.verdict is Verdict.DENY and result.reasons != (ReasonCode.ROBOTS_DISALLOW,):
            raise violated(f"reasons {result.reasons}")
        _check_robots_like(policy, url, result.verdict, result.raw)
        ai = robots.evaluate_ai_agents(policy, url, AGENTS)
        if ai.verdict is Verdict.DENY and ai.detail not in AGENTS:
            raise violated(f"ai-agent deny names {ai.detail!r}")
    delay = robots.crawl_delay(policy, TOKEN)
    if delay is not None and not (delay >= 0 and delay != float("inf")):
        raise violated(f"crawl-delay {delay!r}")
    for key in ("content-usage", "content-signal"):
        robots.extension_rules(policy, TOKEN, key)
    _planted_denies(policy, robots.evaluate, "/heed-planted-tail/x")
    if len(data) % 4 == 0:
        _planted_denies(robots.parse(_PLANT_HEAD + data), robots.evaluate, "/heed-planted-head/x")


def check_aitxt(data: bytes) -> None:
    outcome = FetchOutcome(url=f"{SITE}/ai.txt", status=200, body=data + _PLANT_TAIL.swapcase())
    policy = aitxt.policy_from_fetch(outcome)
    if policy.state is DocState.ABSENT:
        if not aitxt.is_html((), data):
            raise violated("a 2xx non-HTML body was read as absent")
        return
    for url in URLS:
        result = aitxt.evaluate(policy, url, TOKEN)
        if result.verdict not in (Verdict.NONE, Verdict.DENY):
            raise violated(f"verdict {result.verdict}")
        if result.verdict is Verdict.DENY and result.reasons != (ReasonCode.AITXT_DISALLOW,):
            raise violated(f"reasons {result.reasons}")
    _planted_denies(policy, aitxt.evaluate, "/HEED-PLANTED-TAIL/x")
    if len(data) % 4 == 0:
        planted = aitxt.parse(_PLANT_HEAD.upper() + data)
        _planted_denies(planted, aitxt.evaluate, "/Heed-Planted-Head/x")


#: What tdmrep.py skips before the JSON text (documented there: whitespace, FF/VT, a BOM).
_TDMREP_SPACE = b" \t\r\n\f\v"


def _strict_json(data: bytes) -> object:
    stripped = data.lstrip(_TDMREP_SPACE)
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip(_TDMREP_SPACE)
    try:
        return json.loads(stripped.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()


def _reserves_first(data: object) -> bool:
    """Whether the first rule of a parsed tdmrep.json reserves the whole site."""
    rules = [data] if isinstance(data, dict) else data
    if not isinstance(rules, list):
        return False
    first = next((r for r in rules if isinstance(r, dict)), None)
    if first is None:
        return False
    keys = {str(k).strip().lower(): v for k, v in first.items()}
    location = keys.get("location", "/")
    value = keys.get("tdm-reservation")
    if isinstance(value, str):
        value = value.strip()
    return location in ("/", "*", "/*", "") and (value in (1, "1") or value is True)


def check_tdmrep(data: bytes) -> None:
    reference = _strict_json(data)
    for ctype in (None, "application/json"):
        policy = tdmrep.parse(data, content_type=ctype)
        result = tdmrep.evaluate_file(policy, URLS[1])
        if policy.state is DocState.INVALID:
            if result.verdict is not Verdict.ERROR or result.reasons != (
                ReasonCode.TDMREP_INVALID,
            ):
                raise violated(f"invalid file gave {result.verdict} {result.reasons}")
        elif policy.state is DocState.ABSENT:
            if not data.lstrip(_TDMREP_SPACE + b"\xef\xbb\xbf").startswith(b"<"):
                raise violated("non-HTML body read as absent")
        elif policy.state is DocState.OK:
            if not isinstance(reference, list | dict):
                raise violated("a body that is not a JSON array/object was read as rules")
            if _reserves_first(reference) and result.verdict is not Verdict.DENY:
                raise violated(f"site-wide first reservation gave {result.verdict}")
            if result.verdict is Verdict.DENY and result.reasons != (ReasonCode.TDMREP_RESERVED,):
                raise violated(f"reasons {result.reasons}")
        else:
            raise violated(f"state {policy.state}")
        post = tdmrep.evaluate(policy, URLS[1], header_reservation=("1",))
        if post.verdict is not Verdict.DENY and policy.state is not DocState.INVALID:
            raise violated("a reserving header did not deny")


def _lines(data: bytes) -> list[str]:
    return data.decode("latin-1").replace("\r\n", "\n").split("\n")


def check_xrobots(data: bytes) -> None:
    lines = _lines(data)
    xrobots.parse(lines)
    kw = {"product_token": TOKEN, "ai_agents": AGENTS, "purpose": Purpose.TRAIN_AI}
    result = xrobots.evaluate_header(lines, **kw)  # type: ignore[arg-type]
    if result.verdict not in (Verdict.NONE, Verdict.DENY):
        raise violated(f"verdict {result.verdict}")
    if any(not r.value.startswith("x-robots-tag.") for r in result.reasons):
        raise violated(f"reasons {result.reasons}")
    planted = xrobots.evaluate_header([*lines, "noai"], **kw)  # type: ignore[arg-type]
    if planted.verdict is not Verdict.DENY:
        raise violated("a separate 'noai' line did not deny")
    last = lines[-1]
    if ":" not in last:  # no bot scope in the line: a final noai speaks to every bot
        tail = xrobots.evaluate_header([*lines[:-1], last + ", noai"], **kw)  # type: ignore[arg-type]
        if tail.verdict is not Verdict.DENY:
            raise violated("'noai' at the end of an unscoped line did not deny")
    meta = xrobots.evaluate_meta([("robots", line) for line in lines], **kw)  # type: ignore[arg-type]
    if meta.verdict not in (Verdict.NONE, Verdict.DENY):
        raise violated(f"meta verdict {meta.verdict}")


def _aipref_fails(data: bytes) -> bool:
    try:
        aipref.parse(data)
    except SignalParseError:
        return True
    return False


def check_aipref(data: bytes) -> None:
    failed = _aipref_fails(data)
    text = data.decode("latin-1")
    rule_failed = _aipref_fails(text.strip().encode("latin-1"))  # robots.txt values are stripped
    for purpose in Purpose:
        result = aipref.evaluate_header([text], purpose)
        if failed and (
            result.verdict is not Verdict.NONE or result.reasons != (ReasonCode.AIPREF_PARSE_ERROR,)
        ):
            raise violated(f"failed parse gave {result.verdict} {result.reasons}")
        rule = ExtensionRule(path="/", value=text, line=1, raw=f"Content-Usage: {text}")
        ruled = aipref.evaluate_rules((rule,), (), URLS[1], purpose)
        if rule_failed and ruled.verdict is Verdict.GRANT:
            raise violated("failed robots.txt rule gave a grant")
        if result.verdict is Verdict.DENY and result.reasons != (ReasonCode.AIPREF_DISALLOW,):
            raise violated(f"reasons {result.reasons}")


def check_content_signal(data: bytes) -> None:
    text = data.decode("latin-1")
    content_signal.parse(text)
    for purpose in Purpose:
        result = content_signal.evaluate_header([text], purpose)
        if result.verdict not in (Verdict.NONE, Verdict.DENY, Verdict.GRANT):
            raise violated(f"verdict {result.verdict}")
        rule = ExtensionRule(path="/", value=text, line=1, raw=f"Content-Signal: {text}")
        content_signal.evaluate_rules((rule,), (), URLS[1], purpose)
    planted = content_signal.evaluate_header([text, "ai-train=no"], Purpose.TRAIN_AI)
    if planted.verdict is not Verdict.DENY:
        raise violated("a planted 'ai-train=no' did not deny")
    rule = ExtensionRule(path="/", value=text + ", ai-train=no", line=1, raw="Content-Signal:")
    if content_signal.evaluate_rules((rule,), (), URLS[1], Purpose.TRAIN_AI).verdict is not (
        Verdict.DENY
    ):
        raise violated("a planted robots.txt 'ai-train=no' did not deny")


_RSL_DENY = frozenset({ReasonCode.RSL_PROHIBITED, ReasonCode.RSL_LICENSE_REQUIRED})


def check_rsl(data: bytes) -> None:
    contents, notes, readable = read_document(data)
    if not isinstance(contents, tuple) or not isinstance(notes, tuple):
        raise violated("read_document did not return tuples")
    for ctype in (None, "application/rsl+xml"):
        policy = rsl.parse(data, content_type=ctype)
        if policy.state is DocState.OK and not readable:
            raise violated("unreadable XML read as OK")
        for purpose in Purpose:
            result = rsl.evaluate(policy, URLS[1], purpose)
            if policy.state is DocState.INVALID:
                if result.verdict is not Verdict.ERROR or result.reasons != (
                    ReasonCode.RSL_INVALID,
                ):
                    raise violated(f"invalid document gave {result.verdict} {result.reasons}")
            elif policy.state is DocState.ABSENT:
                if result.verdict is not Verdict.NONE:
                    raise violated(f"absent document gave {result.verdict}")
            elif result.verdict is Verdict.DENY and not set(result.reasons) <= _RSL_DENY:
                raise violated(f"reasons {result.reasons}")
            elif result.verdict is Verdict.ERROR:
                raise violated("error verdict for a readable document")


_PLANT_META = b'<meta name="robots" content="noai">'
#: Content types the page is "served" with (one per input, by its length).
_HTML_TYPES = (None, "text/html", "text/html; charset=windows-1252", "text/html; charset=utf-16")


def check_html(data: bytes) -> None:
    from filters import html

    ctype = _HTML_TYPES[len(data) % len(_HTML_TYPES)]
    signals = html.extract(
        data, f"{SITE}/dir/page", product_token=TOKEN, ai_agents=AGENTS, content_type=ctype
    )
    if not isinstance(signals, html.HtmlSignals):
        raise violated("extract did not return HtmlSignals")
    if len(data) % 4:
        return  # one input in four is also read behind a planted robots meta
    planted = html.extract(
        _PLANT_META + data,
        f"{SITE}/dir/page",
        product_token=TOKEN,
        ai_agents=AGENTS,
        content_type="text/html",
    )
    if planted.error is not None:
        return  # html.unparseable: excluded whatever the metas say
    meta = xrobots.evaluate_meta(
        planted.metas, product_token=TOKEN, ai_agents=AGENTS, purpose=Purpose.TRAIN_AI
    )
    if meta.verdict is not Verdict.DENY:
        raise violated("a robots noai meta at the start of the page did not deny")


def check_headers_file(data: bytes) -> None:
    from crawler.check.offline import parse_headers_file

    status, headers, _ = parse_headers_file(data)
    if not (isinstance(status, int) and 100 <= status <= 599):
        raise violated(f"status {status!r}")
    kw = {"product_token": TOKEN, "ai_agents": AGENTS, "purpose": Purpose.TRAIN_AI}
    xrobots.evaluate_header(headers.get_list("x-robots-tag"), **kw)  # type: ignore[arg-type]
    aipref.evaluate_header(headers.get_list("content-usage"), Purpose.TRAIN_AI)
    content_signal.evaluate_header(headers.get_list("content-signal"), Purpose.TRAIN_AI)
    _, planted, _ = parse_headers_file(b"X-Robots-Tag: noai\nX-Pad: 1\n" + data)
    result = xrobots.evaluate_header(planted.get_list("x-robots-tag"), **kw)  # type: ignore[arg-type]
    if result.verdict is not Verdict.DENY:
        raise violated("a first-line 'X-Robots-Tag: noai' did not deny")


class _ConfigFile:
    """One scratch file the config driver rewrites for each input (load_config reads paths)."""

    def __init__(self) -> None:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, self.path = tempfile.mkstemp(prefix="heed-fuzz-", suffix=".toml", dir=folder)
        os.close(fd)

    def write(self, data: bytes) -> None:
        with open(self.path, "wb") as f:
            f.write(data)


_CONFIG_FILE: _ConfigFile | None = None


def check_config(data: bytes) -> None:
    from crawler.config import load_config

    global _CONFIG_FILE
    if _CONFIG_FILE is None:
        _CONFIG_FILE = _ConfigFile()
    _CONFIG_FILE.write(data)
    try:
        cfg = load_config(_CONFIG_FILE.path)
    except ConfigError:
        return
    engine = cfg.engine()
    if not engine.product_token:
        raise violated("a loaded config has no product token")


# --- drivers --------------------------------------------------------------------------------


@dataclass
class Driver:
    """One parser: its seeds, extra words for the mutator, and its contract check."""

    name: str
    check: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    words: tuple[bytes, ...] = ()
    #: Exceptions the parser documents; they may escape ``check`` (none for most).
    documented: tuple[type[BaseException], ...] = ()


@dataclass
class Report:
    name: str
    inputs: int = 0
    seconds: float = 0.0
    violations: int = 0
    samples: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds > 0 else 0.0


_ROBOTS_WORDS = (
    b"User-agent: *\n",
    b"User-agent: heedbot\n",
    b"User-agent: GPTBot\n",
    b"Disallow: /",
    b"Allow: /",
    b"Disallow: http://other.example.org*\n",
    b"Crawl-delay: ",
    b"Content-Usage: train-ai=n\n",
    b"Content-Signal: ai-train=no\n",
    b"License: https://example.com/license.xml\n",
    b"Sitemap: ",
    b"/*?*",
    b"$",
)

DRIVERS: dict[str, Driver] = {
    d.name: d
    for d in (
        Driver("robots", check_robots, robots_seeds, _ROBOTS_WORDS),
        Driver("aitxt", check_aitxt, robots_seeds, _ROBOTS_WORDS),
        Driver(
            "tdmrep",
            check_tdmrep,
            tdmrep_seeds,
            (b'{"location":"/","tdm-reservation":1}', b'"tdm-reservation"', b'"1"', b"true"),
        ),
        Driver(
            "xrobots",
            check_xrobots,
            lambda: [v.encode() for v in _XROBOTS_VALUES],
            (b"noai", b"noml", b"noimageai", b"GPTBot:", b"heedbot:", b"none", b"noindex"),
        ),
        Driver(
            "aipref",
            check_aipref,
            lambda: [v.encode("latin-1", "replace") for v in _header_values()["usage"]],
            (b"train-ai=n", b"search=y", b";exceptions=", b"=?", b'"n"', b"ai=n"),
        ),
        Driver(
            "content_signal",
            check_content_signal,
            lambda: [v.encode("latin-1", "replace") for v in _header_values()["signal"]],
            (b"ai-train=no", b"search=yes", b"ai-input=n", b"train-ai=false"),
        ),
        Driver(
            "rsl",
            check_rsl,
            rsl_seeds,
            (
                b'<prohibits type="usage">ai-all</prohibits>',
                b'<!DOCTYPE x [<!ENTITY a "aaaa">]>',
                b"&a;",
                b"<![CDATA[",
                b'xmlns="https://rslstandard.org/rsl"',
                b'<payment type="free"/>',
                b"<amount>",
            ),
        ),
        Driver(
            "html",
            check_html,
            html_seeds,
            (
                b'<meta name="robots" content="noai">',
                b'<meta charset="utf-16">',
                b'<meta http-equiv="content-type" content="text/html; charset=iso-2022-kr">',
                b"<!--",
                b"<script>",
                b"</html>",
                b'<base href="//x">',
            ),
        ),
        Driver(
            "headers_file",
            check_headers_file,
            header_file_seeds,
            (b"X-Robots-Tag: noai\r\n", b"HTTP/1.1 ", b"\r\n\r\n", b" folded\r\n", b"Link: <"),
        ),
        Driver(
            "config",
            check_config,
            config_seeds,
            (b"[policy]\n", b"on_signal_error = ", b'"ignore"', b"[[x]]", b'"""', b"= inf\n"),
            (ConfigError,),
        ),
    )
}


def run_driver(
    driver: Driver, inputs: int, *, seed: int = 0, samples: int = 3, progress: bool = False
) -> Report:
    """Feed ``inputs`` mutated inputs to ``driver`` and count contract violations."""
    mutate = Mutator(driver.seeds(), driver.words, seed)
    report = Report(driver.name)
    start = time.perf_counter()
    for i in range(inputs):
        data = mutate()
        problem = run_one(driver, data)
        if problem is not None:
            report.violations += 1
            if len(report.samples) < samples:
                report.samples.append((problem, data))
        if progress and i and i % 50_000 == 0:
            rate = i / (time.perf_counter() - start)
            print(f"  {driver.name}: {i:,} inputs, {rate:,.0f}/s", file=sys.stderr, flush=True)
    report.inputs = inputs
    report.seconds = time.perf_counter() - start
    return report


def run_one(driver: Driver, data: bytes) -> str | None:
    """The contract violation one input causes, described, or None."""
    try:
        driver.check(data)
    except ContractViolation as v:
        return f"contract: {v}"
    except driver.documented:
        return None
    except Exception as e:  # anything else escaping is itself a violation
        return f"escaped {type(e).__name__}: {str(e)[:200]}"
    return None


def run(names: Iterable[str], inputs: int, seed: int, samples: int) -> list[Report]:
    reports = []
    for name in names:
        report = run_driver(DRIVERS[name], inputs, seed=seed, samples=samples, progress=True)
        reports.append(report)
        print_report(report)
    return reports


def print_report(report: Report) -> None:
    print(
        f"{report.name:<15} {report.inputs:>10,} inputs  {report.rate:>9,.0f} inputs/s  "
        f"{report.violations} contract violations",
        flush=True,
    )
    for problem, data in report.samples:
        shown = data[:300]
        more = f" … ({len(data):,} bytes)" if len(data) > 300 else ""
        print(f"    {problem}\n      input: {shown!r}{more}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per parser")
    parser.add_argument("--parser", choices=sorted(DRIVERS), action="append", help="only these")
    parser.add_argument("--seed", type=int, default=0, help="random seed (reproducible runs)")
    parser.add_argument("--samples", type=int, default=3, help="violating inputs shown")
    args = parser.parse_args(argv)
    names = args.parser or list(DRIVERS)
    print(f"heed parser fuzz · python {sys.version.split()[0]} · seed {args.seed}", flush=True)
    reports = run(names, args.inputs, args.seed, args.samples)
    total = sum(r.violations for r in reports)
    print(f"total: {total} contract violations", flush=True)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
