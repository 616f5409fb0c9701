"""``heed check``: the crawler's own decision for a list of URLs, explained.

``run`` is the async checking core (plain result objects), ``render`` the table and JSON
output, ``explain`` the ``--explain`` advice, ``offline`` the local-file substitution and
``cli`` the subcommand. See docs/check.md.
"""

from __future__ import annotations

from .run import Checker, CheckResult, run_check

__all__ = ["CheckResult", "Checker", "run_check"]
