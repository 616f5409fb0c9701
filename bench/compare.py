"""Side by side in one run: a benchmark on an earlier commit and on this checkout.

Checks ``--before`` (any git ref) out into a temporary ``git worktree``, then runs the same
benchmark alternately on it and on this checkout, ``--rounds`` times each (alternating, so the
machine's noise falls on both alike), and prints each figure's best run side by side with the
ratio after/before.

- ``engine``: ``bench/engine.py`` of each tree, on its own code (each tree's script speaks its
  own engine's API; the workload is the same). Figures: the rates of lines (a), (b), the
  no-memo line and (c).
- ``crawl``: ``bench/crawl.py --only heed`` of this checkout, with ``--heed-root`` pointing at
  each tree (same generated web, same config). Figure: heed's pages/s and peak RSS.

    .venv/bin/python bench/compare.py --before c6a6709 [--bench engine|crawl] [--rounds 3]
                                      [-- extra arguments for the benchmark]

The worktree is removed at the end (``git worktree remove``); nothing else is touched.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_RATE = re.compile(r"^(\(\w\)[^0-9]*?|\s+same[^0-9]*?)\s+([0-9][0-9,]*)\s+/s")


def _engine(tree: Path, extra: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "engine.py"), *extra],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures: dict[str, float] = {}
    for line in out.splitlines():
        found = _RATE.match(line)
        if found:
            label = found.group(1).strip()
            label = "no memo" if label.startswith("same") else label.split()[0]
            figures[f"{label} /s"] = float(found.group(2).replace(",", ""))
    return figures


def _crawl(tree: Path, extra: list[str]) -> dict[str, float]:
    script = str(ROOT / "bench" / "crawl.py")
    out = subprocess.run(
        [sys.executable, script, "--only", "heed", "--heed-root", str(tree), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("heed "):
            cols = line.split()
            return {"pages/s": float(cols[3]), "peak RSS MB": -float(cols[6])}
    raise RuntimeError(f"no heed line in:\n{out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="git ref to compare with (e.g. a commit)")
    ap.add_argument("--bench", choices=("engine", "crawl"), default="engine")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("extra", nargs="*", help="arguments for the benchmark (after --)")
    args = ap.parse_args(argv)
    run = _engine if args.bench == "engine" else _crawl
    with tempfile.TemporaryDirectory(prefix="heed-before-") as tmp:
        before = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(before), args.before],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for i in range(args.rounds):
                for name, tree in (("before", before), ("after", ROOT)):
                    results[name].append(run(tree, args.extra))
                    print(f"round {i + 1} {name}: {results[name][-1]}", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False
            )
    print(f"{args.bench} benchmark, best of {args.rounds} alternating rounds")
    print(f"{'figure':<16} {'before ' + args.before:>18} {'after (this tree)':>18} {'ratio':>7}")
    for key in results["after"][0]:
        # best = highest rate; RSS is stored negated, so max is also its best (lowest)
        b = max(r[key] for r in results["before"] if key in r)
        a = max(r[key] for r in results["after"])
        sign = -1 if key.startswith("peak") else 1
        print(f"{key:<16} {sign * b:>18,.1f} {sign * a:>18,.1f} {a / b if b else 0:>6.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
