"""The consent gate (filters/engine/gate.py) driven with plain values: no network, no files.

Every path a URL can take: allowed; denied before the fetch; a blocked or unresolvable host; a
redirect to an origin that denies; the redirect limit; denied after the fetch; robots.txt
unreachable; the registry unavailable; RSL documents the response names; retries; and an
internal error in a step, which must exclude the URL (never keep it, never lose it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from filters import FetchErrorKind, FetchOutcome, Headers, ReasonCode, Stage, aitxt, robots, rsl
from filters import tdmrep as tdmrep_mod
from filters.engine import (
    NOT_CONFIGURED,
    Answer,
    CheckAddress,
    Done,
    EngineConfig,
    Evaluator,
    Fetch,
    Follow,
    Gate,
    NeedRegistry,
    NeedRsl,
    NeedSite,
    SiteSignals,
    Step,
    Unavailable,
)
from filters.engine.gate import MAX_REDIRECTS, RETRY_TIMES
from filters.registry import make_entry

A = "https://a.example"
B = "https://b.example"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
HTML = Headers({"content-type": "text/html; charset=utf-8"})


def _doc(url: str, status: int, body: bytes = b"") -> FetchOutcome:
    return FetchOutcome(
        url=url, status=status, body=body, headers=Headers({"content-type": "text/plain"})
    )


def _site(
    origin: str, robots_body: bytes = b"User-agent: *\nAllow: /\n", status: int = 200
) -> SiteSignals:
    return SiteSignals(
        robots=robots.policy_from_fetch(_doc(f"{origin}/robots.txt", status, robots_body)),
        aitxt=aitxt.policy_from_fetch(_doc(f"{origin}/ai.txt", 404)),
        tdmrep=tdmrep_mod.policy_from_fetch(_doc(f"{origin}/.well-known/tdmrep.json", 404)),
    )


def _page(url: str, body: bytes = b"<title>t</title><p>hello</p>", **headers: str) -> FetchOutcome:
    hdrs = Headers({"content-type": "text/html; charset=utf-8", **headers})
    return FetchOutcome(url=url, status=200, headers=hdrs, body=body, final_url=url)


def _redirect(url: str, location: str, status: int = 302) -> FetchOutcome:
    return FetchOutcome(url=url, status=status, headers=Headers({"location": location}))


class World:
    """Plain values standing in for the I/O: sites per origin, registry answers per URL,
    responses per URL (a list is served in order, for retries), RSL documents per URL."""

    def __init__(self) -> None:
        self.sites: dict[str, SiteSignals] = {A: _site(A), B: _site(B)}
        self.answers: dict[str, object] = {}
        self.pages: dict[str, list[FetchOutcome]] = {}
        self.rsl: dict[str, rsl.RslPolicy] = {}
        self.blocked: set[str] = set()
        self.unresolvable: set[str] = set()
        self.log: list[str] = []

    def drive(self, gate: Gate) -> Done:
        step: Step = gate.step
        for _ in range(100):
            self.log.append(type(step).__name__)
            if isinstance(step, Done):
                return step
            step = self.answer(gate, step)
        raise AssertionError("the gate never finished")

    def answer(self, gate: Gate, step: Step) -> Step:
        if isinstance(step, CheckAddress):
            host = step.url.split("/")[2]
            if host in self.blocked:
                return gate.address_refused(blocked=True, detail=host)
            if host in self.unresolvable:
                return gate.address_refused(blocked=False, detail="name does not resolve")
            return gate.address_ok()
        if isinstance(step, NeedSite):
            return gate.site_loaded(self.sites[step.origin])
        if isinstance(step, NeedRegistry):
            return gate.registry_answered(self.answers.get(step.url, NOT_CONFIGURED))  # type: ignore[arg-type]
        if isinstance(step, Fetch):
            queue = self.pages[step.url]
            return gate.response(queue.pop(0) if len(queue) > 1 else queue[0])
        if isinstance(step, Follow):
            return gate.follow()
        if isinstance(step, NeedRsl):
            return gate.rsl_loaded({u: self.rsl[u] for u in step.urls if u in self.rsl})
        raise AssertionError(step)


def _gate(url: str, cfg: EngineConfig | None = None, **kw: object) -> Gate:
    return Gate(Evaluator(cfg or EngineConfig()), url, now=NOW, **kw)  # type: ignore[arg-type]


def test_an_allowed_page_goes_through_every_step_in_order() -> None:
    world = World()
    world.pages[f"{A}/p"] = [_page(f"{A}/p")]
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.allowed and done.decision.stage is Stage.POST_FETCH
    assert world.log == ["CheckAddress", "NeedSite", "NeedRegistry", "Fetch", "Done"]
    assert (done.url, done.final_url, done.http_status) == (f"{A}/p", f"{A}/p", 200)


def test_a_pre_fetch_denial_is_never_fetched() -> None:
    world = World()
    world.sites[A] = _site(A, b"User-agent: *\nDisallow: /private/\n")
    done = world.drive(_gate(f"{A}/private/x"))
    assert not done.decision.allowed and done.decision.stage is Stage.PRE_FETCH
    assert ReasonCode.ROBOTS_DISALLOW in done.decision.reasons
    assert "Fetch" not in world.log and done.http_status is None


def test_unreachable_robots_txt_excludes_before_the_fetch() -> None:
    world = World()
    world.sites[A] = _site(A, b"", status=503)
    done = world.drive(_gate(f"{A}/p", EngineConfig(on_signal_error="ignore")))
    assert done.decision.reasons == (ReasonCode.ROBOTS_UNREACHABLE,)
    assert "Fetch" not in world.log


def test_a_blocked_or_unresolvable_host_is_never_asked_for_its_documents() -> None:
    world = World()
    world.blocked.add("a.example")
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.reasons == (ReasonCode.FETCH_BLOCKED_ADDRESS,)
    assert world.log == ["CheckAddress", "Done"]
    world = World()
    world.unresolvable.add("a.example")
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.reasons == (ReasonCode.FETCH_ERROR,)
    assert done.decision.evidence[-1].raw == "name does not resolve"


def test_registry_unavailable_excludes_and_an_opt_out_denies() -> None:
    world = World()
    world.answers[f"{A}/p"] = Unavailable("timeout")
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.reasons == (ReasonCode.REGISTRY_UNAVAILABLE,)
    entry = make_entry("domain", "a.example", "opt-out", ["train-ai"], registered_by="t")
    world.answers[f"{A}/p"] = Answer((entry,))
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.reasons == (ReasonCode.REGISTRY_OPT_OUT,)
    assert "Fetch" not in world.log


def test_a_redirect_is_gated_again_against_the_target_origin() -> None:
    world = World()
    world.sites[B] = _site(B, b"User-agent: *\nDisallow: /\n")
    world.pages[f"{A}/p"] = [_redirect(f"{A}/p", f"{B}/q")]
    gate = _gate(f"{A}/p")
    done = world.drive(gate)
    assert not done.decision.allowed
    assert ReasonCode.ROBOTS_DISALLOW in done.decision.reasons
    assert done.final_url == f"{B}/q" and done.url == f"{A}/p"
    assert gate.redirects == [f"{B}/q"]
    # the target's origin was asked for its own documents, after its own address check
    assert world.log.count("NeedSite") == 2 and world.log.count("CheckAddress") == 2


def test_a_redirect_to_an_allowed_origin_is_kept_with_the_final_url() -> None:
    world = World()
    world.pages[f"{A}/p"] = [_redirect(f"{A}/p", "/q", 301)]
    world.pages[f"{A}/q"] = [_page(f"{A}/q")]
    done = world.drive(_gate(f"{A}/p"))
    assert done.decision.allowed and done.final_url == f"{A}/q" and done.http_status == 200


def test_the_redirect_limit_excludes() -> None:
    world = World()
    for i in range(MAX_REDIRECTS + 2):
        world.pages[f"{A}/r{i}"] = [_redirect(f"{A}/r{i}", f"/r{i + 1}")]
    done = world.drive(_gate(f"{A}/r0"))
    assert done.decision.reasons == (ReasonCode.FETCH_REDIRECT_LIMIT,)
    assert done.decision.stage is Stage.POST_FETCH and done.http_status == 302
    assert world.log.count("Follow") == MAX_REDIRECTS


def test_a_crawl_gate_started_at_a_later_hop_counts_the_hops_before() -> None:
    world = World()
    world.pages[f"{A}/r"] = [_redirect(f"{A}/r", "/s")]
    done = world.drive(_gate(f"{A}/r", hops=MAX_REDIRECTS))
    assert done.decision.reasons == (ReasonCode.FETCH_REDIRECT_LIMIT,)


def test_a_redirect_to_another_scheme_or_an_invalid_url_excludes() -> None:
    for location, reason in (
        ("ftp://a.example/x", ReasonCode.FETCH_ERROR),
        ("https://a.example:99999/x", ReasonCode.FETCH_INVALID_URL),
    ):
        world = World()
        world.pages[f"{A}/p"] = [_redirect(f"{A}/p", location)]
        assert world.drive(_gate(f"{A}/p")).decision.reasons == (reason,), location


def test_a_post_fetch_denial_carries_the_pre_fetch_evidence() -> None:
    world = World()
    world.pages[f"{A}/p"] = [_page(f"{A}/p", **{"x-robots-tag": "noai"})]
    done = world.drive(_gate(f"{A}/p"))
    assert not done.decision.allowed and done.decision.stage is Stage.POST_FETCH
    assert ReasonCode.X_ROBOTS_TAG_NOAI in done.decision.reasons
    assert any(r.signal.value == "robots" for r in done.decision.evidence)


def test_rsl_documents_named_by_the_response_are_asked_for_and_missing_ones_exclude() -> None:
    world = World()
    link = f'<{A}/license.xml>; rel="license"; type="application/rsl+xml"'
    world.pages[f"{A}/p"] = [_page(f"{A}/p", link=link)]
    done = world.drive(_gate(f"{A}/p"))
    assert "NeedRsl" in world.log
    assert done.decision.reasons == (ReasonCode.RSL_UNREACHABLE,)


def test_retries_on_retry_statuses_then_decides_on_the_last_response() -> None:
    world = World()
    busy = FetchOutcome(url=f"{A}/p", status=503, headers=Headers({"retry-after": "7"}))
    world.pages[f"{A}/p"] = [busy, busy, _page(f"{A}/p")]
    gate = _gate(f"{A}/p", max_retry_pause=2.0)
    steps = []
    step = gate.step
    while not isinstance(step, Done):
        steps.append(step)
        step = world.answer(gate, step)
    fetches = [s for s in steps if isinstance(s, Fetch)]
    assert [f.attempt for f in fetches] == [0, 1, 2]
    assert fetches[1].pause == 2.0  # Retry-After: 7, capped
    assert step.decision.allowed


def test_retries_stop_after_retry_times_and_a_crawl_gate_leaves_them_to_scrapy() -> None:
    world = World()
    world.pages[f"{A}/p"] = [FetchOutcome(url=f"{A}/p", error=FetchErrorKind.TIMEOUT)]
    done = world.drive(_gate(f"{A}/p"))
    assert world.log.count("Fetch") == RETRY_TIMES + 1
    assert done.decision.reasons == (ReasonCode.FETCH_ERROR,)
    world.log.clear()
    done = world.drive(_gate(f"{A}/p", retries=0))
    assert world.log.count("Fetch") == 1 and not done.decision.allowed


class _Broken(SiteSignals):
    """Site signals whose robots policy explodes when read (a bug inside a step)."""

    @property  # type: ignore[misc]
    def robots(self) -> robots.RobotsPolicy:  # type: ignore[override]
        raise RuntimeError("boom")


@pytest.mark.parametrize("where", ["site", "answer", "wrong-step", "driver"])
def test_an_internal_error_in_a_step_excludes_with_fetch_error(where: str) -> None:
    world = World()
    world.pages[f"{A}/p"] = [_page(f"{A}/p")]
    gate = _gate(f"{A}/p")
    gate.address_ok()
    if where == "site":
        step = gate.site_loaded(_Broken.__new__(_Broken))
        step = gate.registry_answered(NOT_CONFIGURED) if not isinstance(step, Done) else step
    elif where == "answer":
        gate.site_loaded(world.sites[A])
        step = gate.registry_answered(("not", "an", "answer"))  # type: ignore[arg-type]
    elif where == "wrong-step":
        step = gate.response(_page(f"{A}/p"))  # the gate asked for the site, not a response
    else:
        step = gate.fail(RuntimeError("the driver broke"))
    assert isinstance(step, Done)
    assert step.decision.reasons == (ReasonCode.FETCH_ERROR,)
    assert not step.decision.allowed
    assert "internal error" in (step.decision.evidence[-1].raw or "")
    # once done, a gate stays done: nothing it is fed afterwards can keep the URL
    assert gate.address_ok() is gate.step and isinstance(gate.step, Done)
    assert not gate.step.decision.allowed


def test_an_internal_error_after_the_fetch_is_a_post_fetch_exclusion() -> None:
    world = World()
    gate = _gate(f"{A}/p")
    step: Step = gate.step
    while not isinstance(step, Fetch):
        step = world.answer(gate, step)
    step = gate.response("not a response")  # type: ignore[arg-type]
    assert isinstance(step, Done) and step.decision.stage is Stage.POST_FETCH
    assert step.decision.reasons == (ReasonCode.FETCH_ERROR,)
    assert step.decision.evidence[:-1] == gate.pre.evidence  # type: ignore[union-attr]


def test_the_gate_gives_what_the_plain_engine_functions_give() -> None:
    from filters.engine import decide_post_fetch, decide_pre_fetch, inspect_response

    world = World()
    world.sites[A] = _site(A, b"User-agent: *\nContent-Usage: train-ai=y\n")
    page = _page(f"{A}/p", **{"content-usage": "train-ai=n"})
    world.pages[f"{A}/p"] = [page]
    cfg = EngineConfig()
    done = world.drive(_gate(f"{A}/p", cfg))
    pre = decide_pre_fetch(world.sites[A], f"{A}/p", cfg, NOT_CONFIGURED, now=NOW)
    want = decide_post_fetch(pre, world.sites[A], inspect_response(page, cfg), cfg, now=NOW)
    assert done.decision == want and not want.allowed


def test_a_gate_without_fetch_ends_with_the_pre_fetch_decision() -> None:
    world = World()
    world.pages[f"{A}/p"] = [_page(f"{A}/p", **{"x-robots-tag": "noai"})]
    done = world.drive(_gate(f"{A}/p", fetch=False))
    assert done.decision.allowed and done.decision.stage is Stage.PRE_FETCH
    assert "Fetch" not in world.log and done.http_status is None
    world.sites[A] = _site(A, b"User-agent: *\nDisallow: /\n")
    done = world.drive(_gate(f"{A}/p", fetch=False))
    assert done.decision.reasons == (ReasonCode.ROBOTS_DISALLOW, ReasonCode.ROBOTS_AI_AGENT)


def test_an_origin_given_by_the_caller_is_used_for_the_first_hop_only() -> None:
    world = World()
    world.pages[f"{A}/p"] = [_redirect(f"{A}/p", f"{B}/q")]
    world.pages[f"{B}/q"] = [_page(f"{B}/q")]
    gate = _gate(f"{A}/p", origin=A)
    asked: list[str] = []
    step: Step = gate.step
    while not isinstance(step, Done):
        if isinstance(step, NeedSite):
            asked.append(step.origin)
        step = world.answer(gate, step)
    assert asked == [A, B] and step.decision.allowed
