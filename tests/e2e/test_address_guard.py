"""End-to-end: the address guard fails closed on the real resolver (SPEC.md §7).

Each test builds a private little internet (``tests/e2e/guardworld.py``): its own network
namespace and hosts/resolv.conf, HTTP servers on a loopback address (``127.0.0.2``, which the
guard must refuse) and on a public-looking one added to ``lo`` (``93.184.215.14``, which it
must allow), and a scripted DNS server — then runs the real ``heed crawl`` and ``heed check``
in it with ``allow_private_networks = false``. No resolver is mocked: the C library reads the
hosts file and asks the DNS server exactly as on the open web. Every test reads the servers'
request log, so "refused" means "never requested", and the Parquet output, so it means
"never written".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from filters.urls import check_url

from .crawlrun import ROOT, CrawlRun, write_config

PUBLIC = "93.184.215.14"
LAN = "127.0.0.2"
PORT = 8080
HOSTS = "127.0.0.1 localhost\n"


def _can_unshare() -> str | None:
    if sys.platform != "linux":
        return "needs Linux namespaces"
    if os.geteuid() != 0:
        return "needs root (unshare --mount --net, bind mounts over /etc/hosts)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs util-linux unshare and iproute2 ip"
    done = subprocess.run(
        ["unshare", "--mount", "--net", "sh", "-c", "ip link set lo up"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return f"unshare --mount --net is not permitted here: {done.stderr.decode()[:200]}"
    return None


pytestmark = pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))


def _html(text: str) -> dict[str, Any]:
    return {"body": f"<!doctype html><html><body><p>{text}</p></body></html>"}


PAGES: dict[str, dict[str, Any]] = {
    "/robots.txt": {"body": "User-agent: *\nAllow: /\n", "type": "text/plain"},
    "/ai.txt": {"body": "User-agent: *\nAllow: /\n", "type": "text/plain"},
    "/.well-known/tdmrep.json": {"body": "[]", "type": "application/json"},
    "/": _html("home"),
    "/a": _html("internal a"),
    "/b": _html("internal b"),
    "/c": _html("internal c"),
}


def _crawl_command(tmp: Path, name: str, seeds: list[str], **network: Any) -> list[str]:
    config = write_config(
        tmp / f"{name}.toml",
        {
            "crawl": {"seeds": seeds, "out": str(tmp / name), "max_depth": 0},
            "network": {"allow_private_networks": False, **network},
        },
    )
    return [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config), "--json"]


def _check_command(tmp: Path, urls: list[str]) -> list[str]:
    config = write_config(tmp / "check.toml", {"network": {"allow_private_networks": False}})
    return [sys.executable, "-m", "crawler.cli", "check", "--config", str(config), "--json", *urls]


def _world(tmp: Path, spec: dict[str, Any]) -> dict[str, Any]:
    folder = tmp / "world"
    folder.mkdir()
    spec = {"hosts": HOSTS, "public": [PUBLIC], "report": str(folder / "report.json"), **spec}
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    world = ["unshare", "--mount", "--net", sys.executable, "-m", "tests.e2e.guardworld"]
    done = subprocess.run(
        [*world, str(folder / "spec.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    for command in report["commands"]:
        assert command["rc"] in (0, 1), command  # heed check: 1 = some URL is excluded
    return report


def _run(tmp: Path, name: str, report: dict[str, Any], index: int) -> CrawlRun:
    command = report["commands"][index]
    return CrawlRun(command["rc"], command["stdout"], command["stderr"], tmp / name)


def _requested(report: dict[str, Any], server: str, host: str | None = None) -> list[str]:
    return [
        r["path"]
        for r in report["requests"]
        if r["server"] == server and (host is None or r["host"] == host)
    ]


def test_a_failed_lookup_is_an_error_and_never_switches_the_guard_off(tmp_path: Path) -> None:
    """flaky.test fails to resolve once (NXDOMAIN); by then the hosts file maps it to
    127.0.0.2. The first URL is ``fetch.error``, the next ``fetch.blocked-address``: the
    failure was not remembered as "not blocked", and nothing internal was fetched."""
    seeds = [f"http://flaky.test:{PORT}/a", f"http://flaky.test:{PORT}/b"]
    spec = {
        # 0.0.0.0 catches every local address: 127.0.0.2, 127.1, 0.0.0.0 ...
        "servers": {"lan": {"address": "0.0.0.0", "port": PORT, "pages": PAGES}},
        "dns": {
            "flaky.test": {"nxdomain": True, "write_hosts": HOSTS + f"{LAN} flaky.test\n"},
        },
        "commands": [
            # one request at a time, so the second URL is checked after the first failed
            _crawl_command(tmp_path, "flaky", seeds, concurrency=1, per_host_concurrency=1),
        ],
    }
    report = _world(tmp_path, spec)
    run = _run(tmp_path, "flaky", report, 0)
    assert run.returncode == 0, run.stderr
    assert _requested(report, "lan") == []
    assert run.records() == []
    decisions = sorted(run.decisions(), key=lambda d: d["decided_at"])
    assert [d["url"] for d in decisions] in (seeds, seeds[::-1])
    assert [d["reasons"] for d in decisions] == [["fetch.error"], ["fetch.blocked-address"]]
    assert all(d["stage"] == "pre-fetch" and not d["allowed"] for d in decisions)
    # One look-up went to DNS (and failed); the second was answered by the hosts file.
    asked = {(q["name"], q["type"]) for q in report["queries"]}
    assert asked <= {("flaky.test", 1), ("flaky.test", 28)} and asked


def test_numeric_and_mixed_hosts_are_refused_and_heed_check_agrees(tmp_path: Path) -> None:
    """Loopback written as an IPv4-mapped or unspecified address, and a name with one public
    and one loopback address: all refused before any request, by the crawl and by ``heed
    check``; a name that never resolves is ``fetch.error`` in both.
    (Hosts such as ``2130706433``, ``127.1`` or ``0x7f.0.0.2`` never get this far: heed's URL
    rules refuse a host whose last label is a number unless it is dotted-decimal IPv4,
    ``filters/urls.py``.)"""
    assert check_url(f"http://0x7f.0.0.2:{PORT}/") is not None  # inet_aton reads 127.0.0.2
    urls = [
        f"http://0.0.0.0:{PORT}/",
        f"http://[::ffff:127.0.0.2]:{PORT}/",
        f"http://dual.test:{PORT}/",
    ]
    never = f"http://never.test:{PORT}/"
    spec = {
        "hosts": HOSTS + f"{PUBLIC} dual.test\n{LAN} dual.test\n",
        "servers": {"lan": {"address": "0.0.0.0", "port": PORT, "pages": PAGES}},
        "dns": {"never.test": {"nxdomain": True}},
        "commands": [
            _crawl_command(tmp_path, "numeric", [*urls, never]),
            _check_command(tmp_path, [*urls, never]),
        ],
    }
    report = _world(tmp_path, spec)
    assert _requested(report, "lan") == []
    run = _run(tmp_path, "numeric", report, 0)
    assert run.returncode == 0, run.stderr
    assert run.records() == []
    for url in urls:
        assert run.decision(url)["reasons"] == ["fetch.blocked-address"], url
    assert run.decision(never)["reasons"] == ["fetch.error"]
    checked = {r["url"]: r for r in json.loads(report["commands"][1]["stdout"])["results"]}
    assert set(checked) == {*urls, never}
    for url, result in checked.items():
        assert result["verdict"] == "excluded", (url, result)
        if url in urls:
            assert result["reasons"] == ["fetch.blocked-address"], (url, result)
        else:
            assert result["reasons"] == ["fetch.error"], result  # as the crawl decides


def test_the_connection_goes_only_to_an_address_that_was_checked(tmp_path: Path) -> None:
    """DNS rebinding, answered with TTL 0 by the world's DNS server:

    - ``pub.test`` always resolves to the public address: fetched and kept (the guard lets a
      public address through and connects to it);
    - ``rebind.test`` resolves to the public address once (the early check), then to
      127.0.0.2: the signal-document fetcher's connection resolves, checks and refuses, so
      nothing of the host is requested anywhere;
    - ``late.test`` stays public until its documents were read, then resolves to 127.0.0.2
      when Scrapy connects for the page: refused there, ``fetch.blocked-address``;
    - ``heed check`` on a name that rebinds after its first look-up: excluded.
    """
    names = ("pub.test", "rebind.test", "late.test")
    seeds = [f"http://{n}:{PORT}/" for n in names]
    switch_on = ["late.test", "/.well-known/tdmrep.json"]
    spec = {
        "servers": {
            "public": {"address": PUBLIC, "port": PORT, "pages": PAGES},
            "lan": {"address": LAN, "port": PORT, "pages": PAGES},
        },
        "dns": {
            "pub.test": {"a": [PUBLIC]},
            "rebind.test": {"a": [PUBLIC], "switch_after": 1, "then": [LAN]},
            "late.test": {"a": [PUBLIC], "switch_on": switch_on, "then": [LAN]},
            "again.test": {"a": [PUBLIC], "switch_after": 1, "then": [LAN]},
        },
        "commands": [
            _crawl_command(tmp_path, "rebind", seeds),
            _check_command(tmp_path, [f"http://again.test:{PORT}/"]),
        ],
    }
    report = _world(tmp_path, spec)
    assert _requested(report, "lan") == [], report["requests"]
    run = _run(tmp_path, "rebind", report, 0)
    assert run.returncode == 0, run.stderr
    assert run.kept_urls() == {seeds[0]}
    assert "/" in _requested(report, "public", "pub.test")
    assert _requested(report, "public", "rebind.test") == []
    rebound = run.decision(seeds[1])
    assert not rebound["allowed"]
    assert set(rebound["reasons"]) <= {"robots.unreachable", "fetch.blocked-address"}
    late = run.decision(seeds[2])
    assert late["reasons"] == ["fetch.blocked-address"]
    late_paths = _requested(report, "public", "late.test")
    assert "/.well-known/tdmrep.json" in late_paths and "/" not in late_paths
    result = json.loads(report["commands"][1]["stdout"])["results"][0]
    assert result["verdict"] == "excluded", result
    assert _requested(report, "public", "again.test") == []


_PROOF = (
    "import json, sys\n"
    "from crawler.registry.verify import VerificationFailed, fetch_proof\n"
    "try:\n"
    "    print(json.dumps({'text': fetch_proof(sys.argv[1], allow_private=False)}))\n"
    "except VerificationFailed as e:\n"
    "    print(json.dumps({'error': str(e)}))\n"
)


def test_the_registry_proof_fetch_connects_only_to_a_checked_address(tmp_path: Path) -> None:
    """The site-owner proof fetch (``crawler/registry/verify.py``) goes through the same guard:
    a name that answers the public address once and 127.0.0.2 afterwards (TTL 0) is fetched
    from the public address it was checked at, never from the internal one; a name that does
    not resolve fails the proof; a name resolving to 127.0.0.2 is refused as non-public."""
    proof = {"/.well-known/heed-registry.txt": {"body": "public\n", "type": "text/plain"}}
    internal = {"/.well-known/heed-registry.txt": {"body": "internal\n", "type": "text/plain"}}
    command = [sys.executable, "-c", _PROOF]
    spec = {
        "servers": {
            "public": {"address": PUBLIC, "port": PORT, "pages": proof},
            "lan": {"address": LAN, "port": PORT, "pages": internal},
        },
        "dns": {
            "rebind.test": {"a": [PUBLIC], "switch_after": 1, "then": [LAN]},
            "inside.test": {"a": [LAN]},
            "gone.test": {"nxdomain": True, "write_hosts": HOSTS},
        },
        "commands": [
            [*command, f"http://rebind.test:{PORT}"],
            [*command, f"http://inside.test:{PORT}"],
            [*command, f"http://gone.test:{PORT}"],
        ],
    }
    report = _world(tmp_path, spec)
    assert _requested(report, "lan") == [], report["requests"]
    rebound, inside, gone = (json.loads(c["stdout"]) for c in report["commands"])
    assert rebound == {"text": "public\n"}, rebound
    assert "non-public" in inside["error"], inside
    assert "resolve" in gone["error"], gone
