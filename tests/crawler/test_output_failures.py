"""``RunWriter`` after a write failure: fails once, keeps published parts, drops the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crawler.output import RunWriter, check_output_dir
from filters import ConfigError

from .test_output import decision, record


def test_a_folder_replaced_by_a_file_fails_the_writer_once_and_loses_no_published_part(
    tmp_path: Path,
) -> None:
    failures: list[str] = []
    writer = RunWriter(tmp_path, "run1", row_group_rows=1, part_max_rows=2)
    writer.on_failure = failures.append
    for i in range(2):
        writer.write_record(record(i))
        writer.write_decision(decision(i))
    published = sorted((tmp_path / "records").glob("*.parquet"))
    assert len(published) == 1
    os.rename(tmp_path / "records", tmp_path / "records.moved")
    (tmp_path / "records").write_text("in the way\n", encoding="utf-8")
    for i in range(2, 8):  # the next part cannot be created: the writer fails, never raises
        writer.write_record(record(i))
        writer.write_decision(decision(i))
    assert len(failures) == 1 and "cannot write records/" in failures[0]
    assert writer.failure == failures[0] and writer.rows_lost >= 10
    path = writer.close({"fatal": None})
    info = json.loads(path.read_text(encoding="utf-8"))
    assert info["fatal"] == info["write_error"] == failures[0]
    assert info["rows_lost"] == writer.rows_lost
    moved = sorted((tmp_path / "records.moved").glob("*.parquet"))
    assert [p.name for p in moved] == [p.name for p in published]
    assert pq.read_table(moved[0]).num_rows == 2
    for part in (tmp_path / "decisions").glob("*.parquet"):
        assert pq.read_table(part).num_rows > 0  # complete parts only


def test_check_output_dir_names_the_path_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(ConfigError, match="cannot create it"):
        check_output_dir(tmp_path / "file" / "out")
    check_output_dir(tmp_path / "new" / "out")
    assert (tmp_path / "new" / "out").is_dir() and not list((tmp_path / "new" / "out").iterdir())
