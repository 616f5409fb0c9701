"""Building and serving the site-owner page from command-line options.

``heed registry serve`` includes the page in the registry service's app:
``make_server(store, host, port, config, routers=[router_for_serve(store, config, ...)])``.
``heed demo --serve`` serves it alone (``page_app`` + ``serve_forever``: uvicorn on one
socket) next to the loopback demo web, with ``allow_private`` (the demo's sites are on
127.0.0.x), over the demo's own registry file.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from fastapi import APIRouter, FastAPI

from ...config import load_config
from .._api import ServiceConfig
from ..store import RegistryStore
from .options import PageOptions
from .router import page_router

__all__ = ["page_app", "router_for_serve", "serve_forever"]


def router_for_serve(
    store: RegistryStore, config: ServiceConfig, *, check_config: str | None = None
) -> APIRouter:
    """The page for ``heed registry serve``: its checks under the run config file
    ``check_config`` (its identity, policy and limits; None: ``heed check``'s defaults, whose
    contact URL is a placeholder), private addresses only with the service's
    ``allow_private``.

    Raises:
        ConfigError: ``check_config`` is missing or invalid.
    """
    cfg = load_config(check_config) if check_config else None
    return page_router(store, config, options=PageOptions(check_config=cfg))


def page_app(store: RegistryStore, config: ServiceConfig, options: PageOptions) -> FastAPI:
    """An app holding the page alone (no JSON API, no OpenAPI document)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(page_router(store, config, options=options))
    return app


def serve_forever(app: FastAPI, *, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve ``app`` on ``host:port`` (0: a free port) until SIGINT or SIGTERM; ``on_ready``
    gets the page's URL once the socket is bound, before the first request is taken.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)  # connections made from now on wait for uvicorn in the backlog
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        )
        on_ready(f"http://{shown}:{bound}/")
        server.run(sockets=[sock])  # returns after Ctrl-C (uvicorn's own signal handlers)
    finally:
        sock.close()
