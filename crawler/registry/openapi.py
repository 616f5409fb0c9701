"""The OpenAPI 3.1 description of the registry service, served at ``/openapi.json``: generated
by FastAPI from the routes and request models of ``app.py``."""

from __future__ import annotations

from typing import Any

from .app import new_app

__all__ = ["openapi_document"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the service's API (a fresh dict each call)."""
    return new_app().openapi()
