"""The OpenAPI 3.1 description of the registry service, served at ``/openapi.json``.

Kept as code next to the routes (``service.py``) so a test can check that both list the same
paths and methods.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["openapi_document"]

_ERROR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(schema_ref: str, description: str = "ok") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def _body(schema_ref: str) -> dict[str, Any]:
    return {"required": True, **_json(schema_ref, "request body")}


_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["subject_kind", "subject", "choice", "purposes"],
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
        "subject_kind": {"enum": ["domain", "prefix", "url"]},
        "subject": {"type": "string", "maxLength": 2048},
        "choice": {"enum": ["opt-out", "opt-in"]},
        "purposes": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": ["train-ai", "ai-input", "search"]},
        },
        "license": {"type": ["string", "null"], "description": "SPDX id or LicenseRef-…"},
        "registered_by": {"type": "string", "maxLength": 200},
        "registered_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "note": {"type": ["string", "null"], "maxLength": 2000},
        "verified": {"type": "boolean"},
    },
}

_SCHEMAS: dict[str, Any] = {
    "Entry": _ENTRY_SCHEMA,
    "EntryAnswer": {
        "type": "object",
        "properties": {"entry": {"$ref": "#/components/schemas/Entry"}},
    },
    "EntryPage": {
        "type": "object",
        "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
            "next": {
                "type": ["string", "null"],
                "description": "pass as ?after= for the next page",
            },
        },
    },
    "Error": {
        "type": "object",
        "description": "every error answer; 405 carries Allow, 429 and 503 carry Retry-After",
        "properties": {"error": {"type": "string"}},
    },
    "Health": {"type": "object", "properties": {"status": {"const": "ok"}}},
    "LookupRequest": {
        "type": "object",
        "required": ["urls"],
        "properties": {
            "urls": {
                "type": "array",
                "maxItems": 10000,
                "items": {"type": "string", "maxLength": 8192},
            },
            "purpose": {"enum": ["train-ai", "ai-input", "search"], "description": "also decide"},
        },
    },
    "LookupAnswer": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string"},
                        "entries": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Entry"},
                        },
                        "verdict": {"enum": ["deny", "grant", "none"]},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "entry_id": {"type": ["string", "null"]},
                    },
                },
            }
        },
    },
    "ChallengeRequest": {
        "type": "object",
        "required": ["origin", "entry"],
        "properties": {
            "origin": {"type": "string", "examples": ["https://example.com"]},
            "entry": {"$ref": "#/components/schemas/Entry"},
        },
    },
    "Challenge": {
        "type": "object",
        "properties": {
            "challenge_id": {"type": "string"},
            "origin": {"type": "string"},
            "well_known_url": {"type": "string"},
            "content": {"type": "string", "description": "publish this line in the file"},
            "expires_at": {"type": "string", "format": "date-time"},
            "verify_url": {"type": "string"},
        },
    },
}

_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict each call)."""
    return copy.deepcopy(_document())


def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "heed consent registry", "version": "1"},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/health": {"get": {"summary": "liveness", "responses": {"200": _json("Health")}}},
            "/openapi.json": {
                "get": {"summary": "this document", "responses": {"200": {"description": "ok"}}}
            },
            "/v1/lookup": {
                "post": {
                    "summary": "candidate entries for many URLs (open)",
                    "requestBody": _body("LookupRequest"),
                    "responses": {"200": _json("LookupAnswer"), "400": _ERROR, "413": _ERROR},
                }
            },
            "/v1/entries": {
                "get": {
                    "summary": "list entries (keyset pages)",
                    "parameters": [
                        {"name": "host", "in": "query", "schema": {"type": "string"}},
                        {"name": "after", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 1000},
                        },
                    ],
                    "responses": {"200": _json("EntryPage")},
                },
                "post": {
                    "summary": "add an entry",
                    "security": _AUTH,
                    "requestBody": _body("Entry"),
                    "responses": {
                        "201": _json("EntryAnswer"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "422": _ERROR,
                    },
                },
            },
            "/v1/entries/{id}": {
                "get": {
                    "parameters": _ID,
                    "responses": {"200": _json("EntryAnswer"), "404": _ERROR},
                },
                "delete": {
                    "security": _AUTH,
                    "parameters": _ID,
                    "responses": {"200": {"description": "removed"}, "401": _ERROR, "404": _ERROR},
                },
            },
            "/v1/challenges": {
                "post": {
                    "summary": "start a site-owner verification (no token; rate-limited)",
                    "requestBody": _body("ChallengeRequest"),
                    "responses": {
                        "201": _json("Challenge"),
                        "400": _ERROR,
                        "422": _ERROR,
                        "429": _ERROR,
                    },
                }
            },
            "/v1/challenges/{id}/verify": {
                "post": {
                    "summary": "fetch the well-known file and record the entry as verified",
                    "parameters": _ID,
                    "responses": {
                        "201": _json("EntryAnswer"),
                        "404": _ERROR,
                        "410": _ERROR,
                        "422": _ERROR,
                        "503": _ERROR,
                    },
                }
            },
        },
    }
