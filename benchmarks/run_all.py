"""Run every benchmark, one after the other, each printing its own table.

    .venv/bin/python benchmarks/run_all.py [--quick]

--quick uses smaller sizes (minutes instead of an hour); the figures in
BENCHMARKS.md come from the full runs, whose exact commands it lists.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["bench_extract.py", "--repeats", "3", "--llm-repeats", "1"],
    ["bench_embed.py"],
    ["bench_search.py", "--hybrid-sizes", "10000,100000,1000000"],
    ["bench_retrieval.py"],
    ["bench_ranker.py"],
    ["bench_ranker_before.py"],
    ["bench_digest.py", "--users", "10000"],
    ["bench_executor.py"],
    ["bench_index_compressed.py"],
]
QUICK = [
    ["bench_extract.py", "--repeats", "1", "--llm-repeats", "0"],
    ["bench_embed.py"],
    ["bench_search.py", "--sizes", "10000,100000"],
    ["bench_ranker.py", "--users", "200", "--timing-users", "1000"],
    ["bench_digest.py", "--users", "1000"],
    ["bench_executor.py", "--pdfs", "10", "--abstracts", "200"],
    ["bench_index_compressed.py", "--n", "100000"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    failed = []
    for command in QUICK if args.quick else FULL:
        print(f"\n=== {' '.join(command)} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]]).returncode != 0:
            failed.append(command[0])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
