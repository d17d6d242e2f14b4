"""Run one benchmark on an earlier revision and on the working tree, in turn, in the same session.

    python -m bench.before_after --base a00b3b6 [--rounds 2] -- page_rerun pages/attention.py

The earlier revision is checked out into a temporary git worktree beside this checkout (removed
afterwards) and run
with this same Python; the rounds alternate base, current, base, current … so that the
machine's drift hits both alike. Each run's output is printed under its label; the figures to
compare are the benchmark's own (its ratios against its own reference, its megabytes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tree: Path, bench: str, arguments: list[str], timeout: float) -> str:
    result = subprocess.run([sys.executable, "-m", f"bench.{bench}", *arguments], cwd=tree, capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    output = result.stdout.strip()
    if result.returncode != 0:
        output += f"\n(exit {result.returncode}) " + result.stderr.strip()[-1500:]
    return output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("bench", help="a module of bench/, e.g. page_rerun")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    arguments = [a for a in args.arguments if a != "--"]
    commit = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    # beside this checkout, so that paths the benchmarks take relative to it (../shared) resolve alike
    base_tree = Path(tempfile.mkdtemp(prefix=f".bench-base-{commit}-", dir=ROOT.parent))
    base_tree.rmdir()
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base_tree), commit], cwd=ROOT, check=True)
    try:
        for round_index in range(args.rounds):
            for label, tree in ((f"base {commit}", base_tree), ("current tree", ROOT)):
                print(f"== round {round_index + 1}, {label}: bench.{args.bench} {' '.join(arguments)}", flush=True)
                print(run_bench(tree, args.bench, arguments, args.timeout), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
