"""Reading an import file (JSON Lines or CSV) into the entries ``heed registry import`` adds.

``plan_import`` validates every record and applies ``--on-conflict`` to ids repeated inside
the file: ``fail`` names each repeated line, ``skip`` keeps the first record, ``replace`` the
last. Ids already in the database are the store's part (``RegistryStore.add_many``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from filters.errors import RegistryValidationError
from filters.registry import Entry, entry_from_dict

__all__ = ["format_of", "plan_import"]


def _read_records(text: str, fmt: str) -> Iterator[tuple[int, object]]:
    """(line number, record) pairs; a line that is not JSON yields its error as the record."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            record = {k: (v if v != "" else None) for k, v in row.items() if k is not None}
            yield reader.line_num, record
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as e:
            yield number, RegistryValidationError(f"not JSON: {e}")


def format_of(path: str, given: str | None) -> str:
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def plan_import(
    text: str, fmt: str, source: str, *, default_by: str, conflict: str
) -> tuple[dict[str, tuple[int, Entry]], list[str], int]:
    """The entries to import by id (with the line each came from), the errors naming
    ``source:line``, and how many repeated records were skipped."""
    by_id: dict[str, tuple[int, Entry]] = {}  # id -> (line, entry) of the record kept
    errors: list[str] = []
    skipped = 0
    for number, record in _read_records(text, fmt):
        try:
            if isinstance(record, Exception):
                raise record
            entry = entry_from_dict(record, default_by=default_by)
        except RegistryValidationError as e:
            errors.append(f"{source}:{number}: {e}")
            continue
        earlier = by_id.get(entry.id)
        if earlier is None or conflict == "replace":
            by_id.pop(entry.id, None)  # a replacement takes the later record's place
            by_id[entry.id] = (number, entry)
        elif conflict == "skip":
            skipped += 1
        else:
            errors.append(f"{source}:{number}: id {entry.id} is also on line {earlier[0]}")
    return by_id, errors, skipped
