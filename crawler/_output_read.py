"""Reading a run's output back: every complete part of ``records/`` or ``decisions/`` as one
Arrow table, checked against heed's schema (temporary parts are never read)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ._output_parts import part_files
from ._output_schema import (
    DECISION_SCHEMA,
    RECORD_SCHEMA,
    RECORD_SCHEMA_V1,
    SCHEMA_VERSION,
    upgrade_records,
)

__all__ = ["read_decisions", "read_records"]


def _read(folder: Path, schema: pa.Schema) -> pa.Table:
    tables = []
    for _, path in part_files(folder):
        table = pq.read_table(path)
        if schema is RECORD_SCHEMA and table.schema.equals(RECORD_SCHEMA_V1, check_metadata=False):
            table = upgrade_records(table)  # written by an earlier heed (schema version 1)
        if not table.schema.equals(schema, check_metadata=False):
            raise ValueError(f"{path}: its schema is not heed's schema version {SCHEMA_VERSION}")
        tables.append(table.replace_schema_metadata(schema.metadata))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def read_records(out_dir: Path) -> pa.Table:
    """Every complete ``records/`` part of a run directory as one table (temporaries ignored).

    Raises:
        ValueError: a part whose schema differs from ``RECORD_SCHEMA``.
    """
    return _read(Path(out_dir) / "records", RECORD_SCHEMA)


def read_decisions(out_dir: Path) -> pa.Table:
    """Every complete ``decisions/`` part of a run directory as one table (temporaries ignored).

    Raises:
        ValueError: a part whose schema differs from ``DECISION_SCHEMA``.
    """
    return _read(Path(out_dir) / "decisions", DECISION_SCHEMA)
