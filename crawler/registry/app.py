"""The registry service's routes as a FastAPI application (SPEC.md §3.6), served by uvicorn
(``service.py``).

Routes (the OpenAPI document is generated from them, at ``/openapi.json``; ``/docs`` is the
interactive page):

- ``GET /v1/health``; ``POST /v1/lookup`` (batch, open to all); ``GET /v1/entries``,
  ``GET /v1/entries/{id}`` (open);
- ``POST /v1/entries``, ``DELETE /v1/entries/{id}``: need ``Authorization: Bearer <token>``,
  a token created with ``heed registry token add`` (only its SHA-256 is stored);
- ``POST /v1/challenges`` and ``POST /v1/challenges/{id}/verify``: a site owner registers an
  entry for their own origin without a token by publishing the challenge (``site_owner.py``).

``/`` is left free: ``create_app(..., routers=...)`` includes further routers as given (the
site owners' web page).

Request bodies are pydantic models validated by FastAPI. An entry's fields are documented in
the model but validated by ``filters.registry.entry_from_dict``, the one validator the CLI's
import and the challenge share. Before FastAPI reads a body, the route checks its length
(``_BoundedRoute``): 411 without a ``Content-Length`` or when chunked, 413 over ``max_body``,
then 400 when the JSON nests deeper than ``max_json_depth``. (So a challenge's body, at most
``max_body``, is read and its form validated before the client's rate is checked; the rate is
still checked before the entry is validated or anything is stored.)

Every answer, errors included, is JSON; errors are ``{"error": "..."}`` with 400 (malformed,
too deep, a request field of the wrong type or size, an expiry in the past), 401 (no/wrong
token, with ``WWW-Authenticate``), 404, 405 (with ``Allow``: every method the path takes),
411, 413, 422 (an invalid entry, an unknown purpose, a failed verification), 410 (challenge
expired), 429, 503, 500 (store failure or a fault of the service). 400, 411 and 413 close the
connection (a body may be left unread).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.routing import Match

from filters.errors import RegistryError, RegistryValidationError
from filters.registry import entry_from_dict, entry_to_dict

from . import site_owner
from ._answer import dumps as _dumps
from ._answer import lookup_body as _lookup_body
from ._api import ApiError, ServiceConfig, refuse_past_expiry
from ._limits import nested_deeper_than
from ._models import (
    Challenge,
    ChallengeRequest,
    EntryAnswer,
    EntryBody,
    EntryPage,
    ErrorBody,
    Health,
    LookupAnswer,
    LookupRequest,
    Removed,
)
from .service import RegistryServer
from .store import RegistryStore

__all__ = ["create_app", "new_app"]

log = logging.getLogger(__name__)

_ENTRY_ID = r"^[A-Za-z0-9._:-]{1,128}$"
_CHALLENGE_ID = r"^[A-Za-z0-9_-]{1,64}$"
#: Validation errors of a request's meaning (422); every other one is of its form (400).
_MEANING = frozenset({"enum", "literal_error"})
_CLOSE = (400, 411, 413)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (400, 422, *statuses)}


# Plumbing ----------------------------------------------------------------------------------


def _server(request: Request) -> RegistryServer:
    server: RegistryServer = request.app.state.registry
    return server


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="heed-registry"'
    if status in _CLOSE:
        headers["Connection"] = "close"
    data = body if isinstance(body, bytes) else _dumps(body).encode("utf-8")
    response = Response(data, status, headers, media_type="application/json")
    # Header names as HTTP writes them (Starlette lowers them; h11 sends them as given).
    response.raw_headers = [(name.title(), value) for name, value in response.raw_headers]
    return response


async def _read_bounded(request: Request) -> None:
    """Read the body within the bounds, before FastAPI parses it (it reads the cached bytes)."""
    config = _server(request).config
    if "transfer-encoding" in request.headers:
        raise ApiError(411, "send a Content-Length, not a chunked body")
    length_text = request.headers.get("content-length")
    if length_text is None:
        raise ApiError(411, "Content-Length required")
    if not length_text.isdigit():
        raise ApiError(400, "bad Content-Length")
    if int(length_text) > config.max_body:
        raise ApiError(413, f"body larger than {config.max_body} bytes")
    raw = await request.body()
    depth = config.max_json_depth
    # Fewer opening brackets than the bound cannot nest deeper (a C-speed test on bytes).
    if raw.count(b"[") + raw.count(b"{") <= depth:
        return
    try:
        value = json.loads(raw)
    except RecursionError as e:
        raise ApiError(400, f"JSON nested deeper than {depth} levels") from e
    except ValueError:
        return  # not JSON: FastAPI answers it
    if nested_deeper_than(value, depth):
        raise ApiError(400, f"JSON nested deeper than {depth} levels")


#: Exceptions answered by their handlers (below); any other is a fault of the service.
_ANSWERED = (HTTPException, RequestValidationError, ApiError, RegistryError)


class _BoundedRoute(APIRoute):
    """A route whose request body is bounded (``_read_bounded``) before FastAPI reads it, and
    whose faults are answered as a JSON 500 (the connection stays usable)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_body = self.body_field is not None

        async def bounded(request: Request) -> Response:
            try:
                if reads_body:
                    await _read_bounded(request)
                return await handler(request)
            except _ANSWERED:
                raise
            except Exception:
                log.exception("registry service: %s %s failed", request.method, request.url.path)
                return _json(500, {"error": "internal error"})

        return bounded


_bearer = HTTPBearer(auto_error=False, description="a token from `heed registry token add`")


def _writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    """The name of the request's valid write token (401 without one)."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "a bearer token is required for writes")
    name = _server(request).store.check_token(credentials.credentials.strip())
    if name is None:
        raise ApiError(401, "invalid token")
    return name


Writer = Annotated[str, Security(_writer)]
EntryId = Annotated[str, Path(pattern=_ENTRY_ID)]
ChallengeId = Annotated[str, Path(pattern=_CHALLENGE_ID)]


# Routes ------------------------------------------------------------------------------------

_api = APIRouter(route_class=_BoundedRoute)


@_api.get("/v1/health", response_model=Health, summary="liveness")
def health(request: Request) -> Response:
    _server(request).store.get("")  # one indexed read: proves the database answers
    return _json(200, {"status": "ok"})


@_api.post(
    "/v1/lookup",
    response_model=LookupAnswer,
    responses=_errors(413),
    summary="candidate entries for many URLs (open)",
)
def lookup(request: Request, body: LookupRequest) -> Response:
    server = _server(request)
    if len(body.urls) > server.config.max_batch:
        raise ApiError(413, f"at most {server.config.max_batch} URLs per lookup")
    found = server.store.candidates(body.urls)
    return _json(200, _lookup_body(found, list(dict.fromkeys(body.urls)), body.purpose))


@_api.get("/v1/entries", response_model=EntryPage, responses=_errors(), summary="list entries")
def list_entries(
    request: Request,
    host: str | None = None,
    after: str = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Keyset pages: pass ``next`` as ``?after=`` for the following page."""
    entries = _server(request).store.list(host=host, after=after, limit=limit)
    following = entries[-1].id if len(entries) == limit else None
    return _json(200, {"entries": [entry_to_dict(e) for e in entries], "next": following})


@_api.post(
    "/v1/entries",
    status_code=201,
    response_model=EntryAnswer,
    responses=_errors(401),
    summary="add an entry",
)
def add_entry(request: Request, name: Writer, body: EntryBody) -> Response:
    entry = entry_from_dict(body.fields(), default_by=f"token:{name}")
    refuse_past_expiry(entry)
    _server(request).store.add(entry)
    return _json(201, {"entry": entry_to_dict(entry)})


@_api.get("/v1/entries/{id}", response_model=EntryAnswer, responses=_errors(404))
def show_entry(request: Request, id: EntryId) -> Response:
    entry = _server(request).store.get(id)
    if entry is None:
        raise ApiError(404, f"no entry {id}")
    return _json(200, {"entry": entry_to_dict(entry)})


@_api.delete("/v1/entries/{id}", response_model=Removed, responses=_errors(401, 404))
def remove_entry(request: Request, name: Writer, id: EntryId) -> Response:
    if not _server(request).store.remove(id):
        raise ApiError(404, f"no entry {id}")
    return _json(200, {"removed": id})


@_api.post(
    "/v1/challenges",
    status_code=201,
    response_model=Challenge,
    responses=_errors(429),
    summary="start a site-owner verification (no token; rate-limited)",
)
def create_challenge(request: Request, body: ChallengeRequest) -> Response:
    client = request.client.host if request.client else ""
    fields = {"origin": body.origin, "entry": body.entry.fields()}
    return _json(201, site_owner.create_challenge(_server(request), client, lambda: fields))


@_api.post(
    "/v1/challenges/{id}/verify",
    status_code=201,
    response_model=EntryAnswer,
    responses=_errors(404, 410, 503),
    summary="fetch the well-known file and record the entry as verified",
)
def verify_challenge(request: Request, id: ChallengeId) -> Response:
    return _json(201, site_owner.verify_challenge(_server(request), id))


# Errors ------------------------------------------------------------------------------------


def _allowed(request: Request) -> list[str]:
    """Every method the request's path takes, in the order of the routes."""
    methods: list[str] = []
    for route in request.app.state.routes:
        match, _ = route.matches({**request.scope, "method": ""})
        if match is not Match.NONE:
            methods += [m for m in sorted(getattr(route, "methods", ()) or ()) if m not in methods]
    return methods


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = ", ".join(_allowed(request))
        return _json(405, {"error": f"{request.method} not allowed here"}, {"Allow": allow})
    if exc.status_code == 404:
        return _json(404, {"error": "no such route"})
    return _json(exc.status_code, {"error": str(exc.detail)}, dict(exc.headers or {}))


async def _on_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("loc", ("",))[0] == "path" for e in errors):
        return _json(404, {"error": "no such route"})
    status = 422 if all(e.get("type") in _MEANING for e in errors) else 400
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error", "")
        return _json(400, {"error": f"body is not JSON: {detail}"})
    where = ".".join(str(part) for part in first.get("loc", ()))
    return _json(status, {"error": f"{where}: {first.get('msg', 'invalid')}"})


async def _on_api(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json(exc.status, {"error": exc.message}, exc.headers)


async def _on_registry(request: Request, exc: Exception) -> Response:
    status = 422 if isinstance(exc, RegistryValidationError) else 500
    return _json(status, {"error": str(exc)})


async def _on_fault(request: Request, exc: Exception) -> Response:
    # A fault of the service: still a JSON answer, never a dropped line.
    log.error("registry service: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _json(500, {"error": "internal error"})


# The application ---------------------------------------------------------------------------


def new_app(*, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The application without a store: its routes, error answers and OpenAPI document."""
    app = FastAPI(
        title="heed consent registry",
        version="1",
        description="Opt-out and opt-in entries of site owners (SPEC.md §3.6).",
        openapi_url=None,  # served below, GET only like every route (HEAD is a 405)
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        strict_content_type=False,  # a body is JSON whatever its Content-Type says
    )
    app.include_router(_api)
    for router in routers:
        app.include_router(router)

    def openapi_json() -> Response:
        return _json(200, app.openapi())

    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="heed registry API")

    app.add_api_route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    # Every route, for the Allow of a 405 (the application's own table holds included routers).
    app.state.routes = [*_api.routes, *(r for router in routers for r in router.routes)]
    app.state.routes += [r for r in app.router.routes if isinstance(r, APIRoute)]
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(ApiError, _on_api)
    app.add_exception_handler(RegistryError, _on_registry)
    app.add_exception_handler(Exception, _on_fault)
    return app


def create_app(
    store: RegistryStore, config: ServiceConfig, *, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """The registry service over ``store``; its state (``RegistryServer``) is
    ``app.state.registry``, read by every request (its ``config`` may be replaced)."""
    app = new_app(routers=routers)
    app.state.registry = RegistryServer(store, config)
    return app
