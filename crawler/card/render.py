"""Every file of a card folder, rendered from one :class:`CardStats`, and writing them.

``RENDERERS`` maps a file name to its renderer; ``heed card`` writes each, and
``heed card --check`` renders each again and compares it with the file in the folder. A new
file of the card (``card.html``) is one more entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from filters import ConfigError

from .._output_parts import publish_bytes
from .eu import eu_summary, render_eu_json, render_eu_md
from .html import render_card_html
from .readme import render_readme
from .stats import CardStats

__all__ = ["RENDERERS", "render_all", "write_card"]


def _card_json(stats: CardStats) -> str:
    return json.dumps(stats.as_dict(), indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[CardStats], str]] = {
    "README.md": render_readme,
    "eu-summary.json": lambda s: render_eu_json(eu_summary(s)),
    "eu-summary.md": lambda s: render_eu_md(eu_summary(s)),
    "card.json": _card_json,
    "card.html": lambda s: render_card_html(s.as_dict()),
}


def render_all(stats: CardStats) -> dict[str, str]:
    return {name: render(stats) for name, render in RENDERERS.items()}


def write_card(out: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` into ``out`` (created if needed), each atomically (a hidden temporary,
    then a rename). Other files in ``out`` are left alone.

    Raises:
        ConfigError: ``out`` is a file or cannot be created or written.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create the folder ({e.strerror or e})") from e
    written = []
    for name, text in files.items():
        try:
            path = publish_bytes(out / name, text.encode("utf-8"))
        except OSError as e:
            raise ConfigError(f"--out {out}: cannot write {name} ({e.strerror or e})") from e
        written.append(path)
    return written
