"""``heed check``: the crawler's own decision for a list of URLs, explained.

``run`` is the async checking core (plain result objects), ``render`` the table and JSON
output, ``explain`` the ``--explain`` advice, ``offline`` the local-file substitution and
``cli`` the subcommand. See docs/check.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Checker, CheckResult, run_check

__all__ = ["CheckResult", "Checker", "run_check"]


def __getattr__(name: str) -> Any:
    """The checking core is imported on first use (it brings the HTTP client): ``heed``'s
    other commands, which build the ``check`` subcommand's parser, never load it."""
    if name in __all__:
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
