"""``heed check``: would heed keep these pages, and why.

``register(subparsers)`` adds the subcommand to the main ``heed`` CLI; ``main(argv)`` runs it
alone (``python -m crawler.check.cli URL ...``). Exit codes: 0 every URL would be kept, 1 some
URL would be excluded, 2 a usage or configuration error.

Without ``--config`` the built-in defaults of ``RunConfig`` apply, with :data:`DEFAULT_CONTACT`
as the contact URL in the user-agent (``heedbot`` is the product token). Private and loopback
addresses stay blocked unless the config or ``--allow-private-networks`` allows them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from filters import ConfigError, HeedError, Mode, Purpose
from filters.urls import check_url

from .._stdout import print_out, silence_stdout
from ..config import RunConfig, load_config, parse_config, read_seeds

__all__ = ["DEFAULT_CONTACT", "EXIT_EXCLUDED", "EXIT_KEPT", "EXIT_USAGE", "main", "register"]

EXIT_KEPT, EXIT_EXCLUDED, EXIT_USAGE = 0, 1, 2

#: The contact URL sent in the user-agent when no config names one: this command's docs.
# A reserved .invalid name (RFC 6761): heed has no public page, and a check is usually run by
# the site owner on their own site. Crawls must set their own contact_url.
DEFAULT_CONTACT = "https://heed.invalid/check"


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="*", metavar="URL", help="absolute http(s) URLs to check")
    p.add_argument("--urls-file", help="file of URLs, one per line (# comments allowed)")
    p.add_argument("--config", help="TOML run config (default: built-in defaults)")
    p.add_argument("--purpose", choices=[p.value for p in Purpose], help="override the purpose")
    p.add_argument("--mode", choices=[m.value for m in Mode], help="override the mode")
    p.add_argument("--json", action="store_true", help='print {"results": [...], "summary"}')
    p.add_argument(
        "--explain",
        action="store_true",
        help="say what would change the verdict (with copy-pasteable examples)",
    )
    p.add_argument(
        "--allow-private-networks",
        action="store_true",
        default=None,
        help="allow loopback/private addresses (testing a local server)",
    )
    offline = p.add_argument_group(
        "offline", "local files in place of fetched ones (test before you publish)"
    )
    offline.add_argument("--robots", metavar="FILE", help="use FILE as every origin's robots.txt")
    offline.add_argument("--ai-txt", metavar="FILE", help="use FILE as ai.txt")
    offline.add_argument("--tdmrep", metavar="FILE", help="use FILE as tdmrep.json")
    offline.add_argument(
        "--headers",
        metavar="FILE",
        help="use FILE (an HTTP header block) as the page's response headers",
    )
    offline.add_argument("--html", metavar="FILE", help="use FILE as the page body")
    offline.add_argument(
        "--offline",
        action="store_true",
        help="fetch nothing: documents without a file count as not published",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check`` to the ``heed`` command line."""
    p = sub.add_parser(
        "check",
        help="say whether heed would keep URLs, and why",
        description="Fetch each URL's site documents and page exactly as `heed crawl` would "
        "and print the verdict, the stage, every signal consulted with its source, the licence "
        "tag and the Crawl-delay. Exit 0 when every URL would be kept, 1 when any would be "
        "excluded, 2 on a usage or configuration error.",
    )
    _add_arguments(p)
    p.set_defaults(func=handler)


def _config(args: argparse.Namespace) -> RunConfig:
    if args.config:
        cfg = load_config(args.config)
    else:
        cfg = parse_config({"identity": {"contact_url": DEFAULT_CONTACT}})
    changes: dict[str, Any] = {
        "purpose": Purpose(args.purpose) if args.purpose else None,
        "mode": Mode(args.mode) if args.mode else None,
        "allow_private_networks": args.allow_private_networks,
    }
    return cfg.with_overrides(**changes)


def _check_url(url: str) -> None:
    problem = check_url(url)
    if problem:
        shown = url if len(url) <= 200 else url[:200] + "…"
        raise ConfigError(f"URL {shown!r} cannot be checked: {problem}")


def _urls(args: argparse.Namespace) -> list[str]:
    urls = list(args.urls)
    for url in urls:
        _check_url(url)
    if args.urls_file:
        urls.extend(read_seeds(args.urls_file))
    if not urls:
        raise ConfigError("no URLs: give URL arguments or --urls-file FILE")
    return list(dict.fromkeys(urls))


def handler(args: argparse.Namespace) -> int:
    """Run ``heed check``; returns the exit code.

    Raises:
        ConfigError: a usage or configuration error (the main CLI maps it to exit 2).
    """
    from .explain import explain  # the checking core, its HTTP client included: on use
    from .offline import load_substitutes
    from .render import render_json, render_table
    from .run import run_check

    cfg = _config(args)
    urls = _urls(args)
    subs = load_substitutes(
        robots=args.robots,
        ai_txt=args.ai_txt,
        tdmrep=args.tdmrep,
        headers=args.headers,
        html=args.html,
        offline=args.offline,
    )
    results, fetched = run_check(cfg, urls, substitutes=subs)
    explanations = [explain(r, cfg) if args.explain else None for r in results]
    render = render_json if args.json else render_table
    code = EXIT_KEPT if all(r.decision.allowed for r in results) else EXIT_EXCLUDED
    print_out(render(results, cfg, subs, len(fetched), explanations))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m crawler.check.cli``: the ``check`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="heed check")
    _add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    except BrokenPipeError:
        silence_stdout()
        return 0
    try:
        return handler(args)
    except ConfigError as e:
        print(f"heed: configuration error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except HeedError as e:
        print(f"heed: error: {e}", file=sys.stderr)
        return EXIT_EXCLUDED


if __name__ == "__main__":
    sys.exit(main())
