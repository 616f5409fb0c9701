"""``python -m crawler.card DIR … --out CARD``: ``heed card`` through heed's own command line
(its exit codes and error handling), also before ``crawler/cli.py`` registers the command."""

from __future__ import annotations

import sys
from typing import Any

from .. import cli
from . import cli as card_cli

if __name__ == "__main__":
    parser_of = cli.build_parser

    def _with_card() -> object:
        parser = parser_of()
        sub: Any = next(a for a in parser._actions if a.dest == "command")
        if "card" not in sub.choices:
            card_cli.register(sub)
        return parser

    cli.build_parser = _with_card  # type: ignore[assignment]
    sys.exit(cli.main(["card", *sys.argv[1:]]))
