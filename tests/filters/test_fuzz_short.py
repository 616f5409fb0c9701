"""A short run of bench/fuzz.py's drivers (a few seconds), and checks that its contract checker
really catches a broken parser.

The full run (1,000,000 inputs per parser) is ``python bench/fuzz.py``; its figures are in
docs/benchmarks.md ("Fuzzing").
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from filters import tdmrep, xrobots
from filters.model import DocState, Signal, SignalResult, Verdict


def _load_fuzz() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("heed_bench_fuzz", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()

#: Inputs per parser in the short run: a few seconds for all of them together.
SHORT = {"robots": 300, "aitxt": 300, "html": 300}
DEFAULT_SHORT = 600
#: Known violations in files this part of the project does not own (see docs/benchmarks.md,
#: "Fuzzing"): an integer too large for a float escapes crawler/config.load_config.
KNOWN = {"config": ("escaped OverflowError",)}


def test_every_parser_has_a_driver() -> None:
    assert set(fuzz.DRIVERS) == {
        "robots",
        "aitxt",
        "tdmrep",
        "xrobots",
        "aipref",
        "content_signal",
        "rsl",
        "html",
        "headers_file",
        "config",
    }
    for driver in fuzz.DRIVERS.values():
        assert driver.seeds(), driver.name  # every driver starts from real seeds


@pytest.mark.filterwarnings("ignore::UserWarning")  # html5lib's DataLossWarning, as in a crawl
@pytest.mark.parametrize("name", sorted(fuzz.DRIVERS))
def test_short_fuzz_run_finds_no_contract_violation(name: str) -> None:
    report = fuzz.run_driver(fuzz.DRIVERS[name], SHORT.get(name, DEFAULT_SHORT), seed=7, samples=5)
    assert report.inputs == SHORT.get(name, DEFAULT_SHORT)
    unexpected = [
        (problem, data[:200])
        for problem, data in report.samples
        if not problem.startswith(KNOWN.get(name, ("\0",)))
    ]
    assert unexpected == []
    if name not in KNOWN:
        assert report.violations == 0


def test_mutator_is_seeded_and_mutates() -> None:
    seeds = [b"User-agent: *\nDisallow: /private/\n"]
    first = fuzz.Mutator(seeds, (b"Allow: /",), 3)
    second = fuzz.Mutator(seeds, (b"Allow: /",), 3)
    a = [first() for _ in range(200)]
    assert a == [second() for _ in range(200)]
    assert sum(x != seeds[0] for x in a) > 150
    assert any(b"\x00" in x or b"\xef\xbf\xbe" in x or b"\xc2\xa0" in x for x in a)


# --- the checker catches broken parsers ----------------------------------------------------


def test_checker_catches_a_header_parser_that_ignores_noai(monkeypatch: pytest.MonkeyPatch) -> None:
    def blind(values: object, **kw: object) -> SignalResult:
        return SignalResult(Signal.X_ROBOTS_TAG, Verdict.NONE)

    monkeypatch.setattr(
        fuzz, "xrobots", SimpleNamespace(**{**vars(xrobots), "evaluate_header": blind})
    )
    report = fuzz.run_driver(fuzz.DRIVERS["xrobots"], 50, seed=1)
    assert report.violations == 50
    assert report.samples[0][0] == "contract: a separate 'noai' line did not deny"


def test_checker_catches_a_document_parser_that_fails_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lenient(body: bytes, **kw: object) -> tdmrep.TdmrepPolicy:
        policy = tdmrep.parse(body, **kw)  # type: ignore[arg-type]
        if policy.state is DocState.INVALID:  # "could not read it: no rules, so allowed"
            return tdmrep.parse(b"[]")
        return policy

    monkeypatch.setattr(fuzz, "tdmrep", SimpleNamespace(**{**vars(tdmrep), "parse": lenient}))
    assert fuzz.run_one(fuzz.DRIVERS["tdmrep"], b'[{"location": "/", "tdm-reservation": 1') == (
        "contract: a body that is not a JSON array/object was read as rules"
    )
    assert (
        fuzz.run_one(fuzz.DRIVERS["tdmrep"], b'[{"location": "/", "tdm-reservation": 1}]') is None
    )


def test_checker_reports_an_escaping_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def crashes(value: str) -> object:
        raise KeyError(value[:5])

    driver = fuzz.Driver("stub", lambda data: crashes(data.decode("latin-1")), lambda: [b"x"])
    assert fuzz.run_one(driver, b"abcdefgh") == "escaped KeyError: 'abcde'"
    documented = fuzz.Driver("stub", driver.check, driver.seeds, documented=(KeyError,))
    assert fuzz.run_one(documented, b"abcdefgh") is None


def test_checker_catches_a_dropped_planted_disallow(monkeypatch: pytest.MonkeyPatch) -> None:
    # A robots.txt reader that stops at a NUL byte would hide every later line.
    real = fuzz.robots

    def stops_at_nul(body: bytes, **kw: object) -> object:
        return real.parse(body.split(b"\x00", 1)[0], **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(fuzz, "robots", SimpleNamespace(**{**vars(real), "parse": stops_at_nul}))
    problem = fuzz.run_one(fuzz.DRIVERS["robots"], b"User-agent: *\nAllow: /\x00\n")
    assert problem == "contract: planted Disallow for /heed-planted-tail/x not honoured"


def test_config_driver_accepts_only_config_error() -> None:
    driver = fuzz.DRIVERS["config"]
    assert fuzz.run_one(driver, b"[nope]\n") is None  # ConfigError: documented
    assert fuzz.run_one(driver, b"[policy\n") is None  # not TOML: ConfigError


def test_config_deep_nesting_is_a_config_error() -> None:
    problem = fuzz.run_one(fuzz.DRIVERS["config"], b"[crawl]\nseeds = " + b"[" * 5000 + b"\n")
    assert problem is None


def test_config_huge_integer_for_a_number_is_a_config_error() -> None:
    body = b"[limits]\nmax_crawl_delay = " + b"9" * 400 + b"\n"
    assert fuzz.run_one(fuzz.DRIVERS["config"], body) is None


def test_config_integer_past_the_conversion_limit_is_a_config_error() -> None:
    body = b"[limits]\nmax_crawl_delay = " + b"9" * 5000 + b"\n"
    assert fuzz.run_one(fuzz.DRIVERS["config"], body) is None
