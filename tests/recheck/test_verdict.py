"""Which rechecked rows stay: a page that is down is flagged and kept (by default); an
internal error, however it looks, is always a removal."""

from __future__ import annotations

from types import SimpleNamespace

from crawler.recheck.decide import RowResult
from crawler.recheck.run import _Run


def _verdict(result: RowResult, *, refetch: str = "full", on: str = "keep") -> tuple[bool, object]:
    run = SimpleNamespace(
        options=SimpleNamespace(refetch=refetch),
        cfg=SimpleNamespace(recheck_on_gone=on, recheck_on_unreachable=on),
    )
    return _Run._verdict(run, result)  # type: ignore[arg-type]


def test_down_pages_are_flagged_and_kept_or_removed_as_configured() -> None:
    gone = RowResult(False, ("fetch.status",), "post-fetch", http_status=410)
    down = RowResult(False, ("fetch.error",), "post-fetch")
    assert _verdict(gone) == (True, "gone") and _verdict(down) == (True, "unreachable")
    assert _verdict(gone, on="remove") == (False, "gone")
    assert _verdict(down, refetch="none") == (False, None)  # no page was asked


def test_an_internal_error_is_always_removed() -> None:
    bug = RowResult(False, ("fetch.error",), "post-fetch", internal=True)
    assert _verdict(bug) == (False, None)


def test_an_opt_out_is_never_flagged() -> None:
    noai = RowResult(False, ("x-robots-tag.noai",), "post-fetch", http_status=200)
    assert _verdict(noai) == (False, None)
    assert _verdict(RowResult(True, (), "post-fetch")) == (True, None)


def test_a_gate_failure_is_marked_internal() -> None:
    from filters.engine import EngineConfig, Evaluator, Gate

    gate = Gate(Evaluator(EngineConfig()), "https://a.example/p")
    done = gate.fail(RuntimeError("boom"))
    assert RowResult.of(done.decision).internal
    assert not RowResult.of(done.decision).allowed
