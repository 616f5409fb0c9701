"""``heed crawl``'s distributed options: ``--redis``, ``--job``, ``--workers``, ``--worker-id``.

``crawler/cli.py`` adds them with :func:`add_options`, applies them to the loaded config with
:func:`apply_options` and, for ``--workers N``, hands the run to :func:`run_local_workers`
(``crawler/distributed/workers.py``). docs/distributed.md describes the job model.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from filters import ConfigError

from ..config import RunConfig, check_redis_url, check_worker_id
from .workers import default_worker_id, local_worker_ids, run_workers

__all__ = ["MAX_LOCAL_WORKERS", "add_options", "apply_options", "run_local_workers"]

#: ``--workers`` bound: more local processes than this only contend for the same cores.
MAX_LOCAL_WORKERS = 64


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "distributed crawling (docs/distributed.md)",
        "Every heed crawl started with the same Redis URL and job name joins the same job, on "
        "one machine or many; the output folder holds every worker's parts.",
    )
    g.add_argument(
        "--redis",
        metavar="URL",
        help="Redis of the job, e.g. redis://10.0.0.5:6379/0 (overrides [distributed] "
        "redis_url); without one, the crawl runs in this process alone",
    )
    g.add_argument(
        "--job",
        metavar="NAME",
        help="the job's name (overrides [distributed] job; default: the output folder's name)",
    )
    g.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"start N local worker processes of the job (1 to {MAX_LOCAL_WORKERS}) with one "
        "progress display and one summary; needs a Redis URL",
    )
    g.add_argument(
        "--worker-id",
        metavar="ID",
        help="this process's id in the job ([A-Za-z0-9_]; default: <host>_<pid>); names its "
        "Parquet parts and its leases in Redis",
    )


def apply_options(cfg: RunConfig, args: argparse.Namespace, out: str) -> RunConfig:
    """``cfg`` with ``--redis``, ``--job`` and ``--worker-id`` applied and checked; in the
    distributed mode the job name is fixed here (from ``out`` when not configured) and a
    worker id is chosen.

    Raises:
        ConfigError: a bad value, or a distributed option without a Redis URL.
    """
    changes: dict[str, Any] = {}
    if args.redis is not None:
        try:
            changes["redis_url"] = check_redis_url(args.redis)
        except ValueError as e:
            raise ConfigError(f"--redis: {e}") from None
    if args.job is not None:
        from .._config_values import job as check_job

        try:
            changes["job"] = check_job(args.job)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"--job: {e}") from None
    if args.worker_id is not None:
        try:
            changes["worker_id"] = check_worker_id(args.worker_id)
        except ValueError as e:
            raise ConfigError(f"--worker-id: {e}") from None
    cfg = replace(cfg, **changes)
    if args.workers is not None and not 1 <= args.workers <= MAX_LOCAL_WORKERS:
        raise ConfigError(f"--workers must be from 1 to {MAX_LOCAL_WORKERS}")
    if not cfg.distributed:
        given = [("--workers", args.workers), ("--worker-id", args.worker_id), ("--job", args.job)]
        for name, value in given:
            if value is not None:
                raise ConfigError(f"{name} needs a Redis URL: [distributed] redis_url or --redis")
        return cfg
    if args.workers is not None and args.worker_id is not None:
        raise ConfigError("--worker-id names one process; --workers chooses ids for its own")
    if args.workers is not None and args.fresh:
        raise ConfigError(
            "--fresh cannot start a distributed job: use a new --job name and output folder"
        )
    job = cfg.job or replace(cfg, out=out).job_name
    return replace(cfg, job=job, worker_id=cfg.worker_id or default_worker_id())


def run_local_workers(
    args: argparse.Namespace, cfg: RunConfig, out: str, *, progress: bool
) -> tuple[dict[str, Any], int]:
    """Run ``--workers N`` local workers of ``cfg``'s job into ``out``: each reads the same
    config; the output folder and job name are passed as computed here, the Redis URL only
    when it came from ``--redis`` (a password in the config stays out of process lists)."""
    argv = [sys.executable, "-m", "crawler.cli"]
    argv += ["-v"] * min(int(getattr(args, "verbose", 0) or 0), 2)
    argv += ["crawl", "--config", str(args.config), "--json", "--no-progress"]
    argv += ["--out", str(Path(out).absolute()), "--job", cfg.job]
    if args.redis is not None:
        argv += ["--redis", cfg.redis_url]
    if args.seeds:
        argv += ["--seeds", str(args.seeds)]
    if args.max_pages is not None:
        argv += ["--max-pages", str(args.max_pages)]
    ids = local_worker_ids(args.workers)
    return run_workers(argv, ids, progress=progress, job=cfg.job, out=out)
