"""`python -m tests.fuzz --calls 100000 --engine sqlite|postgres --seed N`: the long fuzz run.

Prints status codes per method, the INTERNAL/UNKNOWN groups with their server-side causes and the
slowest calls; exits 1 on any INTERNAL/UNKNOWN, call slower than 2 s, or server that stopped
answering health. PostgreSQL needs SKYLANE_TEST_POSTGRES_URL (each service gets a fresh schema).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.fuzz.report import render
from tests.fuzz.runner import fuzz
from tests.helpers import POSTGRES_URL


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000, help="calls in all (default 100000)")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    return parser.parse_args(argv)


def progress_printer(total: int) -> Callable[[int], None]:
    started = time.perf_counter()
    step = max(total // 20, 1)

    def report(done: int) -> None:
        if done % step == 0:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:,}/{total:,} calls ({rate:,.0f}/s)", file=sys.stderr, flush=True)

    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.engine == "postgres" and not POSTGRES_URL:
        print("--engine postgres needs SKYLANE_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="skylane-fuzz-") as directory:
        results = asyncio.run(
            fuzz(
                args.engine,
                Path(directory),
                calls=args.calls,
                seed=args.seed,
                concurrency=args.concurrency,
                progress=progress_printer(args.calls),
            )
        )
    print(render(results))
    return 0 if results.passed else 1


if __name__ == "__main__":
    sys.exit(main())
