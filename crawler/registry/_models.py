"""The request and answer models of the registry service (``app.py``): FastAPI validates
the requests against them and generates the OpenAPI document from them.

An entry's fields are documented here but taken as sent: ``filters.registry.entry_from_dict``
validates them (the one validator the CLI's import and the challenge share), so its messages
reach the client unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from filters.model import Purpose

__all__ = [
    "Challenge",
    "ChallengeRequest",
    "EntryAnswer",
    "EntryBody",
    "EntryPage",
    "ErrorBody",
    "Health",
    "LookupAnswer",
    "LookupRequest",
    "Removed",
]

_MAX_URL = 8192


def _doc(schema: dict[str, Any]) -> WithJsonSchema:
    """Documents a field taken as sent (``entry_from_dict`` validates it) as ``schema``."""
    return WithJsonSchema(schema)


_PURPOSE_NAMES = [p.value for p in Purpose]
_Id = Annotated[Any, _doc({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"})]
_Kind = Annotated[Any, _doc({"enum": ["domain", "prefix", "url"]})]
_Subject = Annotated[Any, _doc({"type": "string", "maxLength": 2048})]
_Choice = Annotated[Any, _doc({"enum": ["opt-out", "opt-in"]})]
_Purposes = Annotated[
    Any, _doc({"type": "array", "minItems": 1, "items": {"enum": _PURPOSE_NAMES}})
]
_License = Annotated[Any, _doc({"type": ["string", "null"], "description": "SPDX or LicenseRef-…"})]
_By = Annotated[Any, _doc({"type": "string", "maxLength": 200})]
_At = Annotated[Any, _doc({"type": "string", "format": "date-time"})]
_Expires = Annotated[Any, _doc({"type": ["string", "null"], "format": "date-time"})]
_Note = Annotated[Any, _doc({"type": ["string", "null"], "maxLength": 2000})]
_Flag = Annotated[Any, _doc({"type": "boolean"})]
_Verdict = Annotated[Any, _doc({"enum": ["deny", "grant", "none"]})]


class EntryBody(BaseModel):
    """An entry as sent; ``id`` is optional (derived from the subject when absent)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"required": ["subject_kind", "subject", "choice", "purposes"]},
    )
    id: _Id = None
    subject_kind: _Kind = None
    subject: _Subject = None
    choice: _Choice = None
    purposes: _Purposes = None
    license: _License = None
    registered_by: _By = None
    registered_at: _At = None
    expires_at: _Expires = None
    note: _Note = None
    verified: _Flag = None

    def fields(self) -> dict[str, Any]:
        """The fields as sent (unknown ones too; ``entry_from_dict`` decides)."""
        return self.model_dump(exclude_unset=True)


Url = Annotated[str, StringConstraints(min_length=1, max_length=_MAX_URL)]


class LookupRequest(BaseModel):
    urls: list[Url] = Field(description="at most max_batch (10,000) URLs per lookup")
    purpose: Purpose | None = Field(None, description="also decide for this purpose")


class ChallengeRequest(BaseModel):
    origin: str = Field(examples=["https://example.com"])
    entry: EntryBody


class ErrorBody(BaseModel):
    """Every error answer; 405 carries Allow, 429 and 503 carry Retry-After."""

    error: str


class EntryAnswer(BaseModel):
    entry: EntryBody


class EntryPage(BaseModel):
    entries: list[EntryBody]
    next: str | None = Field(description="pass as ?after= for the next page")


class LookupResult(BaseModel):
    url: str
    entries: list[EntryBody]
    verdict: _Verdict = None
    reasons: list[str] | None = None
    entry_id: str | None = None


class LookupAnswer(BaseModel):
    results: list[LookupResult]


class Challenge(BaseModel):
    challenge_id: str
    origin: str
    well_known_url: str
    content: str = Field(description="publish this line in the file")
    expires_at: str
    verify_url: str


class Health(BaseModel):
    status: str


class Removed(BaseModel):
    removed: str
