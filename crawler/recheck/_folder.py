"""The recheck output folder: is it ours, does it overlap the input, atomic files in it.

Private to ``crawler/recheck/output.py``. A recheck output folder is marked by
``.heed-recheck`` (JSON: the input it was started for); a folder without it must be missing
or empty (the writer lock's own file aside) to be used, so a recheck never writes into a
folder of the user's. Every file is published atomically like a crawl's parts
(``crawler/_output_parts.py``): written to a hidden ``.<name>.tmp``, fsynced, renamed into
place, the folder fsynced.
"""

from __future__ import annotations

import logging
from pathlib import Path

from filters.errors import ConfigError

from .._output_parts import publish

__all__ = ["MARKER", "SUBFOLDERS", "check_apart", "check_ours", "publish", "remove_stale"]

# ``publish`` is the shared atomic file write (crawler/_output_parts.py), named here too.

log = logging.getLogger(__name__)

MARKER = ".heed-recheck"
LOCK = ".heed-output.lock"  # crawler/_output_folder.py's lock file
SUBFOLDERS = ("records", "removals", "flags", "changes", ".done")
_OURS = frozenset({*SUBFOLDERS, MARKER, LOCK, "run.json", "removed-urls.txt"})


def check_apart(out_dir: Path, input_path: Path) -> None:
    """Refuse an output folder that is the input, inside it, or holds it.

    Raises:
        ConfigError: naming both paths.
    """
    out, src = out_dir.resolve(), input_path.resolve()
    if out == src or out.is_relative_to(src) or src.is_relative_to(out):
        where = "is" if out == src else "is inside" if out.is_relative_to(src) else "contains"
        raise ConfigError(
            f"output folder {out_dir} {where} the input {input_path}; the input is never "
            "written to: choose an --out outside it"
        )


def check_ours(out_dir: Path) -> bool:
    """True when ``out_dir`` is an earlier recheck output, False when missing or empty.

    Raises:
        ConfigError: the path is a file, or a folder with other content (listed).
    """
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise ConfigError(f"output folder {out_dir}: exists and is not a folder")
    names = sorted(p.name for p in out_dir.iterdir())
    ours = (out_dir / MARKER).is_file()
    foreign = [n for n in names if not _is_ours(n)] if ours else [n for n in names if n != LOCK]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        what = "holds files that are not a recheck's" if ours else "is not empty"
        raise ConfigError(
            f"output folder {out_dir} {what} ({shown}); heed recheck writes only into a new "
            "or empty folder, or one an earlier recheck wrote (to resume it)"
        )
    return ours


def _is_ours(name: str) -> bool:
    return name in _OURS or name.startswith("run.json.unreadable") or _is_temporary(name)


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def remove_stale(out_dir: Path) -> None:
    """Delete temporaries a killed recheck left (only hidden ``.*.tmp`` files it names so)."""
    stale = [p for p in out_dir.iterdir() if _is_temporary(p.name) and p.is_file()]
    for sub in SUBFOLDERS:
        if (out_dir / sub).is_dir():
            stale += [p for p in (out_dir / sub).iterdir() if _is_temporary(p.name)]
    for path in sorted(stale):
        path.unlink(missing_ok=True)
    if stale:
        log.warning(
            "removed %d incomplete file(s) left by an interrupted recheck in %s",
            len(stale),
            out_dir,
        )
