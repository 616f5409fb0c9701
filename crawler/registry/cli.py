"""``heed registry``: manage the consent registry and run its service.

Subcommands: ``init``, ``add``, ``remove``, ``list``, ``show``, ``import``, ``export`` (JSON
lines or CSV), ``serve`` and ``token add|list|remove`` (write tokens for the service; the token
is printed once, only its hash is stored). Every subcommand takes ``--db PATH`` (default:
``$HEED_REGISTRY_DB``, else ``registry.db``). Only ``init``, ``add``, ``import`` and
``token add`` create a missing database; every other command refuses it (exit 2, naming the
path), so a mistyped path is never served or listed as an empty registry.

Validation happens before anything is written: a bad URL, an unknown purpose, a bad licence
id or an ``--expires`` in the past is reported (with its line number, for imports) and the
store is left untouched; an import is one transaction. An id already in the registry (or
earlier in the file) is a conflict: ``--on-conflict fail`` (default) imports nothing and names
each line, ``skip`` keeps what was there first, ``replace`` writes the later record over it.
Exit codes: 0 ok, 1 not found, 2 invalid input (or no database), 3 the store failed.

``register(subparsers)`` plugs these into the main ``heed`` parser; ``main(argv)`` runs them
stand-alone (``python -m crawler.registry.cli``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from filters.errors import (
    ConfigError,
    RegistryConflictError,
    RegistryError,
    RegistryValidationError,
)
from filters.registry import Entry, entry_from_dict, entry_to_dict

from ._import import format_of, plan_import
from .store import RegistryStore

__all__ = ["CSV_FIELDS", "main", "register"]

CSV_FIELDS = (
    "id",
    "subject_kind",
    "subject",
    "choice",
    "purposes",
    "license",
    "registered_by",
    "registered_at",
    "expires_at",
    "note",
    "verified",
)
EXIT_NOT_FOUND, EXIT_INVALID, EXIT_STORE = 1, 2, 3
Handler = Callable[[argparse.Namespace], int]


def _store(args: argparse.Namespace, *, create: bool = False) -> RegistryStore:
    """The store at ``--db``; a missing file is created only when ``create``.

    Raises:
        MissingDatabase: there is no file at the path and ``create`` is false.
    """
    if not create and not os.path.isfile(args.db):
        from ..errors import MissingDatabase  # crawler.errors brings the HTTP client's types

        raise MissingDatabase(
            f"no registry database at {args.db!r} (create one with `heed registry init`)"
        )
    return RegistryStore(args.db)


def _print_entry(entry: Entry, out: TextIO | None = None) -> None:
    print(json.dumps(entry_to_dict(entry), ensure_ascii=False), file=out or sys.stdout)


def _cmd_add(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {
        "subject_kind": args.kind,
        "subject": args.subject,
        "choice": args.choice,
        "purposes": args.purpose,
        "license": args.license,
        "registered_by": args.by,
        "expires_at": args.expires,
        "note": args.note,
        "verified": args.verified,
        "id": args.id,
    }
    entry = entry_from_dict(data)
    if entry.expires_at is not None and entry.expires_at <= datetime.now(UTC):
        raise RegistryValidationError(f"--expires {args.expires} is in the past")
    with _store(args, create=True) as store:
        store.add(entry)
    _print_entry(entry)
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    with _store(args) as store:
        removed = store.remove(args.id)
    if not removed:
        print(f"error: no entry {args.id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"removed {args.id}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        entry = store.get(args.id)
    if entry is None:
        print(f"error: no entry {args.id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(json.dumps(entry_to_dict(entry), ensure_ascii=False, indent=2))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        for entry in store.list(host=args.host, after=args.after, limit=args.limit):
            _print_entry(entry)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    fmt = format_of(args.file, args.format)
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: cannot read {args.file}: {e}", file=sys.stderr)
        return EXIT_INVALID
    conflict = args.on_conflict
    by_id, errors, skipped = plan_import(
        text, fmt, args.file, default_by=args.by, conflict=conflict
    )
    if errors:
        return _import_failed(errors)
    entries = [entry for _, entry in by_id.values()]
    with _store(args, create=True) as store:
        present = store.existing_ids(by_id) if conflict != "fail" else set()
        try:
            count = store.add_many(entries, on_conflict=conflict)
        except RegistryConflictError as e:
            lines = [f"{args.file}:{by_id[i][0]}: id {i} is already in the registry" for i in e.ids]
            return _import_failed(lines, "conflicting")
    done = f"imported {count} entries"
    if conflict == "skip" and (skipped or present):
        done += f" ({skipped + len(present)} skipped: id already present)"
    elif conflict == "replace" and present:
        done += f" ({len(present)} replaced an entry with the same id)"
    print(done)
    return 0


def _import_failed(errors: list[str], what: str = "invalid") -> int:
    for message in errors[:50]:
        print(f"error: {message}", file=sys.stderr)
    if len(errors) > 50:
        print(f"error: … and {len(errors) - 50} more", file=sys.stderr)
    print(f"error: {len(errors)} {what} record(s); nothing imported", file=sys.stderr)
    return EXIT_INVALID


def _cmd_init(args: argparse.Namespace) -> int:
    existed = os.path.isfile(args.db)
    with _store(args, create=True) as store:
        count = store.count()
    print(f"registry {args.db}: {'exists' if existed else 'created'}, {count} entries")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    fmt = format_of(args.file, args.format)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(_store(args))  # first: no output file for a missing db
        out: TextIO = sys.stdout
        if args.file != "-":
            out = stack.enter_context(open(args.file, "w", encoding="utf-8", newline=""))
        writer = csv.DictWriter(out, CSV_FIELDS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for entry in store.iter_all():
            record = entry_to_dict(entry)
            if writer is None:
                print(json.dumps(record, ensure_ascii=False), file=out)
            else:
                purposes = ",".join(sorted(p.value for p in entry.purposes))
                verified = "true" if entry.verified else "false"
                writer.writerow({**record, "purposes": purposes, "verified": verified})
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .service import ServiceConfig, make_server
    from .web.serve import router_for_serve

    config = ServiceConfig(
        max_body=args.max_body,
        max_batch=args.max_batch,
        allow_private=args.allow_private,
        allow_http_proof=args.allow_http_proof,
        max_verifications=args.max_verifications,
    )
    store = _store(args)
    try:  # the site-owner page, at /: its checks under the operator's run config, if given
        page = router_for_serve(store, config, check_config=args.check_config)
    except ConfigError as e:
        print(f"error: --check-config: {e}", file=sys.stderr)
        store.close()
        return EXIT_INVALID
    try:
        server = make_server(store, args.host, args.port, config, routers=[page])
        host, port = server.server_address
        print(f"heed registry listening on http://{host!s}:{port}", flush=True)
        server.serve_forever()  # until SIGINT/SIGTERM: a graceful stop
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    with _store(args, create=args.action == "add") as store:
        if args.action == "add":
            print(store.add_token(args.name))
            print("store this token now: only its hash is kept", file=sys.stderr)
        elif args.action == "remove":
            if not store.remove_token(args.name):
                print(f"error: no token {args.name}", file=sys.stderr)
                return EXIT_NOT_FOUND
        else:
            for name in store.token_names():
                print(name)
    return 0


def _run(handler: Handler) -> Handler:
    """Wrap a handler so validation and store errors become messages and exit codes."""

    def run(args: argparse.Namespace) -> int:
        from ..errors import MissingDatabase  # on use: crawler.errors brings httpcore

        try:
            return handler(args)
        except MissingDatabase as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_INVALID
        except RegistryValidationError as e:
            print(f"error: {e}; nothing written", file=sys.stderr)
            return EXIT_INVALID
        except RegistryError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_STORE

    return run


def _iso(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from e
    return value


def _add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create an empty registry database")
    p.set_defaults(func=_run(_cmd_init))
    p = sub.add_parser("add", parents=[common], help="add an entry")
    p.add_argument("subject", help="a host (domain), a URL prefix or a URL")
    p.add_argument("--kind", required=True, choices=["domain", "prefix", "url"])
    p.add_argument("--choice", required=True, choices=["opt-out", "opt-in"])
    p.add_argument("--purpose", action="append", required=True, help="repeat or comma-separate")
    p.add_argument("--license", help="SPDX id (CC-BY-4.0) or LicenseRef-…")
    p.add_argument("--by", default=os.environ.get("USER") or "operator", help="who registers")
    p.add_argument("--expires", type=_iso, help="ISO 8601 time with zone, in the future")
    p.add_argument("--note")
    p.add_argument("--verified", action="store_true", help="the subject's control was checked")
    p.add_argument("--id", help="entry id (default: a new UUID)")
    p.set_defaults(func=_run(_cmd_add))
    for name, handler in (("remove", _cmd_remove), ("show", _cmd_show)):
        p = sub.add_parser(name, parents=[common], help=f"{name} an entry by id")
        p.add_argument("id")
        p.set_defaults(func=_run(handler))
    p = sub.add_parser("list", parents=[common], help="list entries (JSON lines)")
    p.add_argument("--host", help="only entries indexed under this host")
    p.add_argument("--after", default="", help="start after this id")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_run(_cmd_list))
    for name, handler, text in (("import", _cmd_import, "read"), ("export", _cmd_export, "write")):
        p = sub.add_parser(name, parents=[common], help=f"{text} JSON lines or CSV")
        p.add_argument("file", help="path, or - for stdin/stdout")
        p.add_argument("--format", choices=["jsonl", "csv"], help="default: by file extension")
        if name == "import":
            p.add_argument("--by", default=None, help="registered_by for records without one")
            p.add_argument(
                "--on-conflict",
                choices=["fail", "skip", "replace"],
                default="fail",
                help="an id already present: import nothing (default), keep it, or replace it",
            )
        p.set_defaults(func=_run(handler))


def _add_service_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the HTTP JSON API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--max-batch", type=int, default=10_000)
    p.add_argument("--max-body", type=int, default=1024 * 1024)
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="let verification fetch private/loopback addresses (tests, demos)",
    )
    p.add_argument(
        "--allow-http-proof",
        action="store_true",
        help="accept site-owner proofs over plain http on port 80 (they also cover https)",
    )
    p.add_argument("--max-verifications", type=int, default=4, help="proof fetches at once")
    p.add_argument(
        "--check-config",
        metavar="PATH",
        help="run config (TOML) the site-owner page's checks use: your crawler's identity, "
        "purpose and policy (default: heed check's defaults)",
    )
    p.set_defaults(func=_run(_cmd_serve))
    p = sub.add_parser("token", parents=[common], help="manage write tokens")
    p.add_argument("action", choices=["add", "list", "remove"])
    p.add_argument("name", nargs="?", default="")
    p.set_defaults(func=_run(_cmd_token))


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=os.environ.get("HEED_REGISTRY_DB", "registry.db"),
        help="registry SQLite file (default: $HEED_REGISTRY_DB or registry.db)",
    )
    return common


def _fill(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="registry_command", required=True)
    common = _common()
    _add_parsers(sub, common)
    _add_service_parsers(sub, common)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``registry`` subcommand to the main CLI's subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "registry", help="manage the consent registry", description=__doc__.split("\n\n")[0]
    )
    _fill(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``heed registry`` stand-alone; returns the exit code."""
    parser = argparse.ArgumentParser(prog="heed registry")
    _fill(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
