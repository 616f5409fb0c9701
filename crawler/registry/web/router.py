"""The site-owner page: ``GET /`` and its three forms, as a FastAPI router.

``page_router(store, config, options=...)`` returns an ``APIRouter`` (left out of the OpenAPI
document) for ``crawler.registry.app.create_app(store, config, routers=[...])``:

- ``GET /``: the page; ``GET /static/heed-page.css`` and ``/static/heed-icon.svg``: its
  stylesheet and icon;
- ``POST /check``: "Check my page" (``checking.py``: ``heed check``'s checker and advice);
- ``POST /opt-out`` then ``POST /opt-out/verify``: the proof-of-control flow
  (``owner.py`` over ``crawler.registry.site_owner``), ending in a verified entry;
- ``GET /registered?url=…``: the entries that match a URL.

The page is server-rendered (Jinja2, autoescaped) and needs no JavaScript. Every answer
carries a strict Content-Security-Policy (:data:`CSP`: no script at all, styles only from the
page's own origin, forms post only to it, no framing) and ``no-store``. Every POST needs the
form's CSRF token (``csrf.py``); a refused one is answered 403 with the reason on the page.
Each client address is rate-limited per form (429 with ``Retry-After``). Writing entries
without a proof still needs the JSON API and a token: the page has no such form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from filters import HeedError
from filters.model import Purpose

from .._api import ApiError, ServiceConfig
from .._limits import RateLimiter
from ..service import RegistryServer
from ..store import RegistryStore
from . import owner
from .checking import CheckRefused, PageChecker
from .csrf import COOKIE, TOKEN_TTL, CsrfSigner
from .options import PageOptions

__all__ = ["CSP", "page_router"]

#: The page's Content-Security-Policy: nothing but its own stylesheet and its own forms.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: The largest form body read (a URL, a few fields and the token).
_MAX_FORM = 16 * 1024
_CSS_PATH = "/static/heed-page.css"
_ICON_PATH = "/static/heed-icon.svg"


@dataclass(frozen=True, slots=True)
class _Page:
    """The page's state: templates, signer, limiters, checker, registry side."""

    env: jinja2.Environment
    css: bytes
    icon: bytes
    signer: CsrfSigner
    checker: PageChecker
    state: RegistryServer  # the page's own, when the app has none for this store
    check_limiter: RateLimiter
    lookup_limiter: RateLimiter
    verify_limiter: RateLimiter
    options: PageOptions

    def render(self, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        nonce = request.cookies.get(COOKIE) or self.signer.new_nonce()
        html = self.env.get_template("page.html").render(
            csrf=self.signer.token(nonce),
            css=_CSS_PATH,
            icon=_ICON_PATH,
            purposes=[p.value for p in Purpose],
            title=self.options.title,
            **context,
        )
        headers = dict(_HEADERS)
        if "retry_after" in context:
            headers["Retry-After"] = str(context["retry_after"])
        response = HTMLResponse(html, status_code=status, headers=headers)
        if request.cookies.get(COOKIE) != nonce:
            response.set_cookie(
                COOKIE,
                nonce,
                max_age=TOKEN_TTL,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
        return response


def _state(page: _Page, request: Request) -> RegistryServer:
    """The service's state when the page is in the service's app over the same store (one
    challenge rate limit and one bound on proof fetches for the page and the JSON API), else
    the page's own."""
    shared = getattr(request.app.state, "registry", None)
    if isinstance(shared, RegistryServer) and shared.store is page.state.store:
        return shared
    return page.state


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _text(form: FormData, name: str) -> str:
    """A text field, whole (never cut: a shortened URL would be another URL; the form's size
    is bounded and each value is validated where it is used)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _form(page: _Page, request: Request) -> tuple[FormData | None, HTMLResponse | None]:
    """The POSTed form when its size and CSRF token are acceptable, else the refusal page."""
    try:
        length = int(request.headers.get("content-length", ""))
    except ValueError:
        length = -1
    if not 0 <= length <= _MAX_FORM:
        return None, page.render(request, 413, form_error="the form is too large or has no length")
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # a malformed body: refused like a bad token
        return None, page.render(request, 400, form_error="the form could not be read")
    token = form.get("csrf")
    problem = page.signer.problem(
        token if isinstance(token, str) else None, request.cookies.get(COOKIE)
    )
    if problem:
        return None, page.render(
            request, 403, form_error=f"The form was refused: {problem}. Nothing was done."
        )
    return form, None


def _limited(page: _Page, limiter: RateLimiter, request: Request, key: str) -> HTMLResponse | None:
    wait = limiter.take(_client(request))
    if not wait:
        return None
    return page.render(
        request,
        429,
        retry_after=wait,
        **{key: f"Too many requests from your address; try again in {wait} s."},
    )


def _static(name: str) -> bytes:
    return resources.files("crawler.registry.web").joinpath("static", name).read_bytes()


def page_router(
    store: RegistryStore,
    config: ServiceConfig | None = None,
    *,
    options: PageOptions | None = None,
) -> APIRouter:
    """The site-owner page over ``store`` under the service's ``config`` (challenge limits,
    proof fetch bounds, ``allow_private`` and ``allow_http_proof``) and the page's own
    ``options`` (``PageOptions``: check config, deadline, rate limits, CSRF secret)."""
    config = config or ServiceConfig()
    options = options or PageOptions()
    allow_private = config.allow_private if options.allow_private is None else options.allow_private
    page = _Page(
        env=jinja2.Environment(
            loader=jinja2.PackageLoader("crawler.registry.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        ),
        css=_static("page.css"),
        icon=_static("icon.svg"),
        signer=CsrfSigner(options.secret),
        checker=PageChecker.build(
            options.check_config,
            registry_path=store.path,
            allow_private=allow_private,
            deadline=options.check_deadline,
            max_concurrent=options.max_checks,
        ),
        state=RegistryServer(store, config),
        check_limiter=RateLimiter(options.check_burst, options.check_refill),
        lookup_limiter=RateLimiter(options.lookup_burst, options.lookup_refill),
        verify_limiter=RateLimiter(options.verify_burst, options.verify_refill),
        options=options,
    )
    router = APIRouter(include_in_schema=False)
    _routes(router, page)
    return router


def _routes(router: APIRouter, page: _Page) -> None:
    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        return page.render(request)

    @router.get(_CSS_PATH)
    async def css() -> Response:
        headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(page.css, media_type="text/css", headers=headers)

    @router.get(_ICON_PATH)
    async def icon() -> Response:
        headers = {**_HEADERS, "Cache-Control": "public, max-age=86400"}
        return Response(page.icon, media_type="image/svg+xml", headers=headers)

    @router.post("/check", response_class=HTMLResponse)
    async def check(request: Request) -> Response:
        form, refused = await _form(page, request)
        if form is None:
            return refused or page.render(request, 400)
        url = _text(form, "url")
        limited = _limited(page, page.check_limiter, request, "check_error")
        if limited:
            return limited
        try:
            result = await page.checker.check(url)
        except CheckRefused as e:
            return page.render(request, 422, check_url=url, check_error=str(e))
        return page.render(request, check_url=url, check=result)

    @router.post("/opt-out", response_class=HTMLResponse)
    async def opt_out(request: Request) -> Response:
        form, refused = await _form(page, request)
        if form is None:
            return refused or page.render(request, 400)
        fields = {
            "origin": _text(form, "origin"),
            "scope": _text(form, "scope"),
            "path": _text(form, "path"),
            "note": _text(form, "note"),
        }
        purposes = [p for p in form.getlist("purpose") if isinstance(p, str)][:8]
        try:
            challenge = owner.start_challenge(
                _state(page, request), _client(request), purposes=purposes, **fields
            )
        except ApiError as e:
            return _api_error(page, request, e, "challenge_error", opt_out=fields)
        except HeedError as e:
            return page.render(request, 422, challenge_error=str(e), opt_out=fields)
        return page.render(request, 201, challenge=challenge, opt_out=fields)

    @router.post("/opt-out/verify", response_class=HTMLResponse)
    async def opt_out_verify(request: Request) -> Response:
        form, refused = await _form(page, request)
        if form is None:
            return refused or page.render(request, 400)
        challenge_id = _text(form, "challenge_id")
        limited = _limited(page, page.verify_limiter, request, "verify_error")
        if limited:
            return limited
        try:
            done = await run_in_threadpool(
                owner.verify_challenge, _state(page, request), challenge_id
            )
        except (ApiError, HeedError) as e:
            state = _state(page, request)
            again = await run_in_threadpool(owner.pending_challenge, state, challenge_id)
            shown = {"challenge": again} if again is not None else {}
            if isinstance(e, ApiError):
                return _api_error(page, request, e, "verify_error", **shown)
            return page.render(request, 422, verify_error=str(e), **shown)
        return page.render(request, 201, verified=done["entry"])

    @router.get("/registered", response_class=HTMLResponse)
    async def registered(request: Request, url: str = "") -> Response:
        limited = _limited(page, page.lookup_limiter, request, "lookup_error")
        if limited:
            return limited
        try:
            found = await run_in_threadpool(owner.lookup, page.state.store, url.strip())
        except HeedError as e:
            return page.render(request, 422, lookup_url=url, lookup_error=str(e))
        return page.render(request, lookup_url=url, lookup=found)


def _api_error(
    page: _Page, request: Request, e: ApiError, key: str, **context: Any
) -> HTMLResponse:
    extra: Mapping[str, Any] = {}
    if "Retry-After" in e.headers:
        extra = {"retry_after": e.headers["Retry-After"]}
    return page.render(request, e.status, **{key: e.message}, **extra, **context)
