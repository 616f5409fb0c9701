"""JSON-ready (de)serialisation of registry entries, for the CLI, the service and its clients.

Split from the model (``_model.py``), which it imports; both names are re-exported by
``filters.registry``.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import RegistryValidationError
from ._model import Entry, make_entry

__all__ = ["entry_from_dict", "entry_to_dict"]


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_to_dict(entry: Entry) -> dict[str, object]:
    """A JSON-ready dict of an entry (times in ISO 8601, purposes sorted)."""
    # str() of a StrEnum member is its value as a plain str, without the slower ``.value``.
    return {
        "id": entry.id,
        "subject_kind": str(entry.subject_kind),
        "subject": entry.subject,
        "choice": str(entry.choice),
        "purposes": sorted(map(str, entry.purposes)),
        "license": entry.license,
        "registered_by": entry.registered_by,
        "registered_at": _dt(entry.registered_at),
        "expires_at": _dt(entry.expires_at),
        "note": entry.note,
        "verified": entry.verified,
    }


def _parse_dt(value: object, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RegistryValidationError(f"{name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise RegistryValidationError(f"bad {name} {value!r}: ISO 8601 expected") from e
    return parsed


def entry_from_dict(data: object, *, default_by: str | None = None) -> Entry:
    """Validate a dict (from JSON, CSV or an HTTP body) into an ``Entry``.

    ``purposes`` may be a list or a comma-separated string; ``verified`` a bool or
    ``true``/``false``.

    Raises:
        RegistryValidationError: a field is missing, of the wrong type or invalid.
    """
    if not isinstance(data, dict):
        raise RegistryValidationError("an entry must be a JSON object")
    for name in ("subject_kind", "subject", "choice", "purposes"):
        if data.get(name) in (None, ""):
            raise RegistryValidationError(f"missing field {name!r}")
    purposes = data["purposes"]
    if isinstance(purposes, str):
        purposes = [purposes]
    if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
        raise RegistryValidationError("purposes must be a list of strings")
    texts = {}
    for name in ("subject_kind", "subject", "choice", "license", "registered_by", "note", "id"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise RegistryValidationError(f"{name} must be a string")
        texts[name] = value or None
    verified = data.get("verified", False)
    if isinstance(verified, str):
        verified = verified.strip().lower() in ("true", "1", "yes")
    if not isinstance(verified, bool):
        raise RegistryValidationError("verified must be a boolean")
    return make_entry(
        str(texts["subject_kind"]),
        str(texts["subject"]),
        str(texts["choice"]),
        purposes,
        registered_by=texts["registered_by"] or default_by or "",
        license=texts["license"],
        registered_at=_parse_dt(data.get("registered_at"), "registered_at"),
        expires_at=_parse_dt(data.get("expires_at"), "expires_at"),
        note=texts["note"],
        verified=verified,
        id=texts["id"],
    )
