"""``heed check --explain``: what a site owner would change to be kept, or to opt out.

For an excluded URL there is one piece of advice per deciding reason code (SPEC.md §5), built
from the evidence behind it (the matching line, the header, the tag, the document URL), so the
owner sees *which* line to change. For a kept URL the advice lists the standard signals that
would opt the page out for the run's purpose, each with a copy-pasteable example for
robots.txt, a response header and an HTML meta tag; the tests apply each example and check that
it really excludes the page.

The examples prefer signals that speak to the purpose only, so opting out of AI training does
not also remove a site from search: ``Content-Usage`` (IETF aipref) in robots.txt or as a
header, ``noai`` in ``X-Robots-Tag`` and ``<meta name="robots">``. For ``search`` the standard
``noindex`` is used. A ``Disallow`` for heed's own product token would exclude the page for
every purpose, so it is offered last, as the blunt option.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from filters import Decision, Purpose, SignalResult

from ..config import RunConfig
from .run import CheckResult

__all__ = ["Advice", "Explanation", "explain", "opt_out_examples"]


@dataclass(frozen=True, slots=True)
class Advice:
    """One thing to change: the reason code it answers (None for opt-out advice), the advice,
    and examples as ``(where, snippet)`` pairs."""

    reason: str | None
    text: str
    examples: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "text": self.text,
            "examples": [{"where": w, "snippet": s} for w, s in self.examples],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """``goal`` is ``keep`` for an excluded URL and ``opt-out`` for a kept one."""

    goal: Literal["keep", "opt-out"]
    advice: tuple[Advice, ...]

    def as_dict(self) -> dict[str, object]:
        return {"goal": self.goal, "advice": [a.as_dict() for a in self.advice]}


def _path(url: str) -> str:
    path = urlsplit(url).path or "/"
    return path


@dataclass(frozen=True, slots=True)
class _Ctx:
    url: str
    cfg: RunConfig
    result: SignalResult | None

    @property
    def raw(self) -> str:
        return (self.result.raw if self.result else None) or "(no value recorded)"

    @property
    def source(self) -> str:
        return (self.result.source if self.result else None) or "(unknown source)"

    @property
    def detail(self) -> str:
        return (self.result.detail if self.result else None) or ""


def _unreachable(doc: str) -> Callable[[_Ctx], str]:
    return lambda c: (
        f"{doc} at {c.source} could not be read ({c.raw}). Serve it with status 200, or 404 "
        "if you do not publish one: 429, 5xx, timeouts, broken redirects and unreadable "
        "content count as errors, and heed excludes pages when it cannot read a signal."
    )


_KEEP: Mapping[str, Callable[[_Ctx], str]] = {
    "robots.disallow": lambda c: (
        f"robots.txt ({c.source}) has `{c.raw}` in the group that applies to "
        f"{c.cfg.product_token}. Remove that line, or add a longer rule "
        f"`Allow: {_path(c.url)}` to the same group."
    ),
    "robots.unreachable": lambda c: (
        f"robots.txt at {c.source} could not be fetched ({c.raw}). RFC 9309 then means "
        "'disallow everything': serve it with status 200, or 404 if you have none."
    ),
    "robots.ai-agent": lambda c: (
        f"robots.txt ({c.source}) disallows this path for the AI crawler {c.detail} "
        f"(`{c.raw}`); heed reads that as a reservation against AI use. Remove the rule "
        "(or allow this path for every AI crawler group) if AI use is fine."
    ),
    "aipref.disallow": lambda c: (
        f"`{c.raw}` ({c.source}) refuses {c.cfg.purpose.value}. Change the preference to "
        "`y` or remove it (in robots.txt and in any Content-Usage header: any `n` wins)."
    ),
    "content-signal.disallow": lambda c: (
        f"`{c.raw}` ({c.source}) refuses this use. Change it to `yes` or remove it."
    ),
    "aitxt.disallow": lambda c: (
        f"ai.txt ({c.source}) has `{c.raw}` for this path. Remove it or add a longer `Allow:`."
    ),
    "aitxt.unreachable": _unreachable("ai.txt"),
    "tdmrep.reserved": lambda c: (
        f"A TDMRep reservation ({c.source}: `{c.raw}`) reserves text and data mining rights. "
        "Set tdm-reservation to 0 (tdmrep.json rule, `tdm-reservation` header or meta tag) "
        "or remove it; the later steps override tdmrep.json only with a valid value."
    ),
    "tdmrep.unreachable": _unreachable("/.well-known/tdmrep.json"),
    "tdmrep.invalid": lambda c: (
        f"/.well-known/tdmrep.json ({c.source}) is served as JSON but does not parse "
        f"({c.raw}). Fix the JSON (an array of {{location, tdm-reservation}} objects) or "
        "stop serving it."
    ),
    "registry.opt-out": lambda c: (
        f"The consent registry entry {c.detail} opts this URL out. Ask the registry's "
        "operator to remove it, or register a more specific opt-in entry."
    ),
    "registry.unavailable": lambda c: (
        "The crawler's consent registry did not answer; nothing on the site can change "
        "this. The operator must fix the registry (heed never treats it as a yes)."
    ),
    "rsl.prohibited": lambda c: (
        f"The RSL licence at {c.source} prohibits this use (`{c.raw}`). Permit it in the "
        "<content> that matches this URL, or remove the licence reference."
    ),
    "rsl.license-required": lambda c: (
        f"The RSL licence at {c.source} requires a paid licence or a licence server "
        f"(`{c.raw}`); heed only takes content that is free for the purpose."
    ),
    "rsl.unreachable": _unreachable("The RSL licence document"),
    "rsl.invalid": _unreachable("The RSL licence document"),
    "consent.missing": lambda c: (
        "This run is opt-in: it needs an affirmative yes for "
        f"{c.cfg.purpose.value}, for example `Content-Usage: train-ai=y` in robots.txt or as "
        "a header, `Content-Signal: ai-train=yes`, `tdm-reservation: 0`, a free RSL licence, "
        "or an open licence declared with rel=license."
    ),
    "license.not-open": lambda c: (
        f"This run keeps only openly licensed pages ({c.detail}); the page's licence is "
        f"{c.raw if c.result and c.result.raw else 'not declared'}. Declare an open licence, "
        'e.g. <link rel="license" href="https://creativecommons.org/licenses/by/4.0/">.'
    ),
    "politeness.crawl-delay-too-long": lambda c: (
        f"robots.txt asks for `{c.raw}`, longer than this crawler's limit ({c.detail}). "
        "Lower the Crawl-delay."
    ),
    "fetch.status": lambda c: f"The page answered HTTP {c.detail or c.raw}; it must answer 2xx.",
    "fetch.error": lambda c: (
        f"The page could not be fetched ({c.raw}). Check that it answers, with at most 5 "
        "http(s) redirects."
    ),
    "fetch.too-large": lambda c: (
        f"The page is larger than this crawler's limit ({c.cfg.max_page_bytes} bytes, after "
        "decompression); heed never keeps part of a page."
    ),
    "fetch.redirect-limit": lambda c: "The page redirects more than 5 times; shorten the chain.",
    "fetch.blocked-address": lambda c: (
        f"The host {c.raw} resolves to a private, loopback or reserved address, which heed "
        "never fetches. Publish the page on a public address."
    ),
    "fetch.unsupported-type": lambda c: (
        f"The page is served as {c.raw}; heed keeps HTML and text/plain only."
    ),
    "fetch.invalid-url": lambda c: (
        f"The link `{c.raw}` cannot be requested (a bad port, too long, or not a parsable "
        "http(s) URL). Fix the link where it is published."
    ),
    "blocklist.listed": lambda c: (
        f"The host is on this crawler's configured domain blocklist ({c.detail or c.raw}); "
        "nothing on the site can change this, and heed never requests it."
    ),
    "html.unparseable": lambda c: (
        f"heed could not read this page's HTML ({c.raw}), so it cannot know whether the page "
        "opts out, and excludes it. Serve real HTML, uncompressed or with a correct "
        "Content-Encoding, in an encoding the Encoding Standard reads (UTF-8 is best), "
        "declared by a BOM, the Content-Type charset or a <meta charset> in the first 1,024 "
        "bytes."
    ),
}


def _directive(code: str) -> Callable[[_Ctx], str] | None:
    family, _, directive = code.partition(".")
    if family == "x-robots-tag":
        return lambda c: (
            f"The response header `X-Robots-Tag: {c.raw}` contains `{directive}`. Remove that "
            "directive (or the header line that scopes it to heed or an AI crawler)."
        )
    if family == "meta-robots":
        return lambda c: (
            f"The page's meta tag ({c.raw}) contains `{directive}`. Remove that directive."
        )
    return None


def opt_out_examples(url: str, purpose: Purpose, token: str) -> tuple[Advice, ...]:
    """Standard signals that would opt ``url`` out for ``purpose``, with examples."""
    path = _path(url)
    if purpose is Purpose.SEARCH:
        usage, directive = "search=n", "noindex"
    else:
        usage, directive = "train-ai=n", "noai"
    return (
        Advice(
            None,
            f"Say no to {purpose.value} in robots.txt with the IETF aipref vocabulary "
            "(applies to every crawler that reads it; this path only, or drop the path for "
            "the whole site).",
            (("robots.txt", f"User-agent: *\nContent-Usage: {path} {usage}"),),
        ),
        Advice(
            None,
            "Or send a response header with the page.",
            (("header", f"X-Robots-Tag: {directive}"), ("header", f"Content-Usage: {usage}")),
        ),
        Advice(
            None,
            "Or add a meta tag to the page's <head>.",
            (("html", f'<meta name="robots" content="{directive}">'),),
        ),
        Advice(
            None,
            f"Blunt option: block {token} from this path for every purpose.",
            (("robots.txt", f"User-agent: {token}\nDisallow: {path}"),),
        ),
    )


_CARRIERS = {"html": "meta-robots", "header": "x-robots-tag"}


def _already_there(where: str, snippet: str, evidence: tuple[SignalResult, ...]) -> str | None:
    """The recorded value when an example's directive is already on the page, else None."""
    signal = _CARRIERS.get(where)
    if signal is None or not snippet.lower().startswith(("x-robots-tag:", "<meta")):
        return None
    directive = snippet.rsplit("content=", 1)[-1] if where == "html" else snippet.split(":", 1)[1]
    directive = directive.strip(" \"'>").lower()
    for item in evidence:
        raw = (item.raw or "").lower()
        if item.signal.value == signal and directive in raw.replace(",", " ").split():
            return item.raw
    return None


def _without_present(advice: tuple[Advice, ...], decision: Decision) -> tuple[Advice, ...]:
    """Opt-out advice minus examples already on the page (they did not apply: say so)."""
    out: list[Advice] = []
    for item in advice:
        kept = []
        for where, snippet in item.examples:
            raw = _already_there(where, snippet, decision.evidence)
            if raw is None:
                kept.append((where, snippet))
            else:
                out.append(
                    Advice(
                        None,
                        f"The page already carries `{raw}` ({where}); it does not exclude the "
                        "page for this run's purpose, so adding it again would change nothing.",
                    )
                )
        if kept:
            out.append(Advice(item.reason, item.text, tuple(kept)))
    return tuple(out)


def explain(result: CheckResult, cfg: RunConfig) -> Explanation:
    """The advice for one checked URL."""
    decision = result.decision
    if decision.allowed:
        examples = opt_out_examples(result.final_url, cfg.purpose, cfg.product_token)
        return Explanation("opt-out", _without_present(examples, decision))
    advice: list[Advice] = []
    for code in decision.reasons:
        behind: list[SignalResult | None] = [r for r in decision.evidence if code in r.reasons] or [
            None
        ]
        render = _KEEP.get(code.value) or _directive(code.value)
        for signal in behind:
            ctx = _Ctx(result.final_url, cfg, signal)
            text = render(ctx) if render is not None else f"{code.value}: see docs/check.md."
            if all(a.text != text for a in advice):
                advice.append(Advice(code.value, text))
    return Explanation("keep", tuple(advice))
