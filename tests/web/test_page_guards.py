"""The site-owner page's guards over real HTTP (uvicorn on 127.0.0.1, httpx as the client):
security headers, CSRF refusals that do nothing, rate limits, the refusal of private
addresses after DNS, the proof scope of SPEC.md §3.6, the check deadline, the lookup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler.demo.web import LoopbackWeb, PageSpec, SiteSpec
from crawler.registry._api import ServiceConfig
from crawler.registry.store import RegistryStore
from crawler.registry.web import CSP, PageOptions
from crawler.registry.web.csrf import TOKEN_TTL, CsrfSigner
from filters.registry import Entry, make_entry

from .pageserver import serve_page

TEXT = "text/plain; charset=utf-8"


def _site(delay: float = 0.0) -> SiteSpec:
    return SiteSpec(
        pages={
            "/robots.txt": PageSpec(body="User-agent: *\nAllow: /\n", content_type=TEXT),
            "/": PageSpec(body="<html><body><p>home</p></body></html>", delay=delay),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RegistryStore]:
    with RegistryStore(tmp_path / "registry.db") as s:
        yield s


def _token(client: httpx.Client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _shown(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>\s*<p>([^<]*)', html)
    return found.group(1) if found else ""


def test_every_answer_carries_the_strict_policy(store: RegistryStore) -> None:
    with serve_page(store) as base, httpx.Client(base_url=base) as client:
        answers = [
            client.get("/"),
            client.get("/static/heed-page.css"),
            client.post("/check", data={"url": "https://example.org/"}),  # refused: no token
            client.get("/registered", params={"url": "not a url"}),
        ]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    html = answers[0].text
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert '<html lang="en">' in html and 'name="viewport"' in html
    for field in ("check-url", "origin", "lookup-url", "path", "note"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    cookie = answers[0].headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_csrf_refusals_do_nothing(tmp_path: Path, store: RegistryStore) -> None:
    with LoopbackWeb({"a": _site()}) as web, serve_page(store) as base:
        origin = web.origin("a")
        with httpx.Client(base_url=base) as browser, httpx.Client(base_url=base) as other:
            token = _token(browser)
            forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
            cases = {
                "no token": (browser, {}),
                "forged": (browser, {"csrf": forged}),
                "another browser's token": (other, {"csrf": token}),
            }
            _token(other)  # the other browser has a cookie of its own
            for name, (client, extra) in cases.items():
                for path, data in (
                    ("/check", {"url": web.url("a", "/")}),
                    ("/opt-out", {"origin": origin, "scope": "site", "purpose": "train-ai"}),
                    ("/opt-out/verify", {"challenge_id": "x" * 22}),
                ):
                    answer = client.post(path, data={**data, **extra})
                    assert answer.status_code == 403, (name, path)
                    assert "Nothing was done" in _shown(answer.text, "form-error"), name
            cookieless = httpx.post(base + "/check", data={"csrf": token, "url": origin + "/"})
            assert cookieless.status_code == 403
            assert "no form cookie" in _shown(cookieless.text, "form-error")
            # The same browser with its own token is accepted.
            ok = browser.post("/check", data={"csrf": token, "url": web.url("a", "/")})
            assert ok.status_code == 200 and 'id="verdict">kept<' in ok.text
        assert store.pending_challenges() == 0
        assert [r.path for r in web.requests() if r.path == "/"] == ["/"]  # only the accepted


def test_csrf_token_expires_and_is_bound_to_its_cookie() -> None:
    now = [1_000_000.0]
    signer = CsrfSigner(b"k" * 32, clock=lambda: now[0])
    token = signer.token("nonce-a")
    assert signer.problem(token, "nonce-a") is None
    assert signer.problem(token, "nonce-b") is not None
    assert CsrfSigner(b"j" * 32).problem(token, "nonce-a") is not None  # another secret
    assert signer.problem(token.replace("nonce-a", "nonce-b"), "nonce-b") is not None
    now[0] += TOKEN_TTL + 1
    assert "expired" in (signer.problem(token, "nonce-a") or "")
    assert signer.problem("", "nonce-a") is not None and signer.problem(token, None) is not None


def test_check_rate_limit_per_client(store: RegistryStore) -> None:
    options = PageOptions(check_burst=1, check_refill=3600)
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store, options=options) as base,
        httpx.Client(base_url=base) as client,
    ):
        token = _token(client)
        first = client.post("/check", data={"csrf": token, "url": web.url("a", "/")})
        second = client.post("/check", data={"csrf": token, "url": web.url("a", "/")})
        pages = [r.path for r in web.requests() if r.path == "/"]
    assert first.status_code == 200
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    assert "Too many requests" in _shown(second.text, "check-error")
    assert pages == ["/"]  # the refused check fetched nothing


def test_challenge_rate_limit_per_client(store: RegistryStore) -> None:
    config = ServiceConfig(allow_private=True, challenge_burst=1, challenge_refill=3600)
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store, config=config) as base,
        httpx.Client(base_url=base) as client,
    ):
        token = _token(client)
        form = {"csrf": token, "origin": web.origin("a"), "scope": "site", "purpose": "train-ai"}
        first = client.post("/opt-out", data=form)
        second = client.post("/opt-out", data=form)
    assert first.status_code == 201 and 'id="challenge-line"' in first.text
    assert second.status_code == 429 and "retry-after" in second.headers
    assert "too many challenges" in _shown(second.text, "challenge-error")
    assert store.pending_challenges() == 1


def test_private_addresses_refused_after_dns(store: RegistryStore) -> None:
    config = ServiceConfig(allow_private=False)
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store, config=config) as base,
        httpx.Client(base_url=base) as client,
    ):
        port = web.origin("a").rsplit(":", 1)[1]
        by_name = f"http://localhost:{port}"  # resolves to 127.0.0.1 / ::1
        token = _token(client)
        checked = client.post("/check", data={"csrf": token, "url": by_name + "/"})
        literal = client.post("/check", data={"csrf": token, "url": web.url("a", "/")})
        form = {"csrf": token, "origin": by_name, "scope": "site", "purpose": "train-ai"}
        challenge = client.post("/opt-out", data=form)
        challenge_id = re.search(r'name="challenge_id" value="([^"]+)"', challenge.text)
        assert challenge_id is not None
        verified = client.post(
            "/opt-out/verify", data={"csrf": token, "challenge_id": challenge_id.group(1)}
        )
        requested = web.requests()
    assert checked.status_code == 422 and literal.status_code == 422
    assert "only checks public sites" in _shown(checked.text, "check-error")
    assert "only checks public sites" in _shown(literal.text, "check-error")
    assert verified.status_code == 422
    assert "Verification failed" in _shown(verified.text, "verify-error")
    assert requested == []  # nothing was ever sent to the loopback site
    assert store.count() == 0


def test_a_domain_entry_needs_its_proof_on_the_default_port(store: RegistryStore) -> None:
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store) as base,
        httpx.Client(base_url=base) as client,
    ):
        token = _token(client)
        form = {"csrf": token, "origin": web.origin("a"), "scope": "domain", "purpose": "train-ai"}
        answer = client.post("/opt-out", data=form)
    assert answer.status_code == 422
    assert "covers every port" in _shown(answer.text, "challenge-error")
    assert store.pending_challenges() == 0


def test_the_whole_check_has_one_deadline(store: RegistryStore) -> None:
    options = PageOptions(check_deadline=0.5)
    with (
        LoopbackWeb({"a": _site(delay=20.0)}) as web,
        serve_page(store, options=options) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        token = _token(client)
        answer = client.post("/check", data={"csrf": token, "url": web.url("a", "/")})
    assert answer.status_code == 422
    assert "did not finish within 0.5 s" in _shown(answer.text, "check-error")
    assert 'id="verdict"' not in answer.text


def test_an_oversized_form_is_refused(store: RegistryStore) -> None:
    with serve_page(store) as base, httpx.Client(base_url=base) as client:
        token = _token(client)
        answer = client.post("/check", data={"csrf": token, "url": "https://e.org/" + "a" * 20000})
    assert answer.status_code == 413
    assert "too large" in _shown(answer.text, "form-error")


def test_lookup_lists_only_matching_entries(store: RegistryStore) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    shop = "https://shop.example.org"

    def entry(kind: str, subject: str, choice: str, purposes: list[str], **more: Any) -> Entry:
        return make_entry(kind, subject, choice, purposes, registered_by="test", **more)

    site = entry("prefix", shop + "/", "opt-out", ["train-ai"])
    page = entry("url", shop + "/item", "opt-in", ["train-ai", "search"])
    domain = entry("domain", "example.org", "opt-out", ["search", "ai-input"])
    other = entry("prefix", shop + "/blog/", "opt-out", ["train-ai"])
    elsewhere = entry("domain", "example.net", "opt-out", ["train-ai"])
    expired = entry(
        "domain", "shop.example.org", "opt-out", ["ai-input"],
        registered_at=past - timedelta(days=1), expires_at=past,
    )  # fmt: skip
    store.add_many([site, page, domain, other, elsewhere, expired])
    with serve_page(store) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/registered", params={"url": shop + "/item"})
        bad = client.get("/registered", params={"url": "ftp://shop.example.org/"})
    assert answer.status_code == 200
    # Each row: its entry id and the "Decides" column (the purposes it wins for this URL).
    decides = dict(
        re.findall(r'data-entry-id="([^"]+)">.*?<td class="decides">([^<]*)<', answer.text, re.S)
    )
    assert set(decides) == {site.id, page.id, domain.id, expired.id}
    assert decides[page.id] == "train-ai, search"  # a url entry beats the prefix and domain
    assert decides[domain.id] == "ai-input"  # the expired entry takes no part
    assert decides[site.id] == "—" and decides[expired.id] == "—"
    assert "(expired)" in answer.text
    assert bad.status_code == 422 and _shown(bad.text, "lookup-error")


@pytest.mark.parametrize(
    "host",
    ["127.1", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost."],
)
# "localhost." is not refused as private: the guard cannot resolve it, so the check runs and
# excludes it (fetch.error), like heed check; either way nothing reaches the loopback site.
def test_loopback_in_any_spelling_is_refused(store: RegistryStore, host: str) -> None:
    config = ServiceConfig(allow_private=False)
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store, config=config) as base,
        httpx.Client(base_url=base) as client,
    ):
        port = web.origin("a").rsplit(":", 1)[1]
        token = _token(client)
        answer = client.post("/check", data={"csrf": token, "url": f"http://{host}:{port}/"})
        requested = web.requests()
    assert requested == []
    if host == "localhost.":
        assert 'id="verdict">excluded<' in answer.text
        return
    assert answer.status_code == 422, answer.text
    shown = _shown(answer.text, "check-error")
    assert "only checks public sites" in shown or "cannot be checked" in shown, shown
    assert 'id="verdict"' not in answer.text


def test_page_and_api_share_one_challenge_limit_and_writes_need_a_token(
    store: RegistryStore,
) -> None:
    config = ServiceConfig(allow_private=True, challenge_burst=1, challenge_refill=3600)
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store, config=config) as base,
        httpx.Client(base_url=base) as client,
    ):
        origin = web.origin("a")
        token = _token(client)
        form = {"csrf": token, "origin": origin, "scope": "site", "purpose": "train-ai"}
        by_page = client.post("/opt-out", data=form)
        entry = {"subject_kind": "prefix", "subject": origin + "/", "choice": "opt-out",
                 "purposes": ["train-ai"]}  # fmt: skip
        by_api = client.post("/v1/challenges", json={"origin": origin, "entry": entry})
        write = client.post("/v1/entries", json=entry)
    assert by_page.status_code == 201
    assert by_api.status_code == 429  # the page's challenge used the client's one token
    assert write.status_code == 401  # the page adds no way around the write token
    assert store.count() == 0


def test_the_page_in_the_registry_server(store: RegistryStore) -> None:
    """What ``heed registry serve`` runs: ``make_server(..., routers=[page_router(...)])``."""
    from crawler.registry.service import make_server, serve_in_thread
    from crawler.registry.web import page_router

    config = ServiceConfig()
    server = make_server(store, "127.0.0.1", 0, config, routers=[page_router(store, config)])
    serve_in_thread(server)
    try:
        host, port = server.server_address
        with httpx.Client(base_url=f"http://{host}:{port}") as client:
            page = client.get("/")
            health = client.get("/v1/health")
            schema = client.get("/openapi.json").json()
    finally:
        server.stop()
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert "Check my page" in page.text
    assert health.status_code == 200
    assert not {"/", "/check", "/opt-out", "/registered"} & set(schema["paths"])


def test_an_overlong_url_is_refused_not_cut(store: RegistryStore) -> None:
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store) as base,
        httpx.Client(base_url=base) as client,
    ):
        token = _token(client)
        url = web.url("a", "/") + "?" + "a" * 3000  # its first 2048 characters are a fine URL
        answer = client.post("/check", data={"csrf": token, "url": url})
        requested = web.requests()
    assert answer.status_code == 422
    assert "longer than 2048" in _shown(answer.text, "check-error")
    assert requested == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scope": "everything"}, "choose what to opt out"),
        ({"scope": "site", "purpose": []}, "purpose"),
        ({"scope": "site", "purpose": "sell-ai"}, "sell-ai"),
        ({"scope": "prefix", "path": "/a", "origin": "https://e.org/path"}, "no path"),
    ],
)
def test_a_bad_opt_out_form_says_why_and_stores_nothing(
    store: RegistryStore, fields: dict[str, object], message: str
) -> None:
    with (
        LoopbackWeb({"a": _site()}) as web,
        serve_page(store) as base,
        httpx.Client(base_url=base) as client,
    ):
        form = {"csrf": _token(client), "origin": web.origin("a"), "purpose": "train-ai"}
        answer = client.post("/opt-out", data={**form, **fields})
    assert answer.status_code == 422
    assert message in _shown(answer.text, "challenge-error")
    assert store.pending_challenges() == 0


def test_verifying_an_unknown_challenge_says_so(store: RegistryStore) -> None:
    with serve_page(store) as base, httpx.Client(base_url=base) as client:
        token = _token(client)
        answer = client.post("/opt-out/verify", data={"csrf": token, "challenge_id": "nope"})
    assert answer.status_code == 404
    assert "no such challenge" in _shown(answer.text, "verify-error")
    assert 'id="challenge-line"' not in answer.text and 'id="origin"' in answer.text


def test_router_for_serve_checks_under_the_given_run_config(
    tmp_path: Path, store: RegistryStore
) -> None:
    """``heed registry serve``'s page: checks under the operator's run config file."""
    from crawler.registry.service import make_server, serve_in_thread
    from crawler.registry.web.serve import router_for_serve
    from filters import ConfigError

    robots = "User-agent: examplebot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    site = SiteSpec(
        pages={
            "/robots.txt": PageSpec(body=robots, content_type=TEXT),
            "/": PageSpec(body="<html><body><p>home</p></body></html>"),
        }
    )
    run = tmp_path / "run.toml"
    run.write_text(
        '[identity]\nproduct_token = "examplebot"\ncontact_url = "https://ops.example/bot"\n'
        "[network]\nallow_private_networks = false\n",
        encoding="utf-8",
    )
    config = ServiceConfig(allow_private=True)  # the service's switch decides, not the file's
    verdicts = {}
    with LoopbackWeb({"a": site}) as web:
        for name, path in (("operator", str(run)), ("defaults", None)):
            router = router_for_serve(store, config, check_config=path)
            server = make_server(store, "127.0.0.1", 0, config, routers=[router])
            serve_in_thread(server)
            try:
                host, port = server.server_address
                with httpx.Client(base_url=f"http://{host}:{port}") as client:
                    token = _token(client)
                    answer = client.post("/check", data={"csrf": token, "url": web.url("a", "/")})
            finally:
                server.stop()
            found = re.search(r'id="verdict">(\w+)<', answer.text)
            verdicts[name] = (found.group(1) if found else None, "robots.disallow" in answer.text)
    assert verdicts == {"operator": ("excluded", True), "defaults": ("kept", False)}
    with pytest.raises(ConfigError):
        router_for_serve(store, config, check_config=str(tmp_path / "missing.toml"))
