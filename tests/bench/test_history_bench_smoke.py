"""The history benchmark still runs: tiny histories seeded into real SQLite files, read through real servers.
Nothing here asserts on speed (the machine may be busy): every seeded row is there, and every read answered."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO


def test_balance_and_decision_reads_run_on_seeded_histories() -> None:
    command = [sys.executable, "-m", "bench.history_bench", "--runs", "1", "--seconds", "0.5", "--sizes", "200", "400"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "seeded 400 ledger entries" in out and "seeded 401 decisions" in out  # the copies and the real one
    reads = [line for line in out.splitlines() if line.startswith("run 1 ")]
    assert len(reads) == 4 and all(line.endswith("errors 0") for line in reads)
    assert "GetBalance: p50 at 400 rows / at 200 rows" in out and "GetDecision: p50 at 400 rows" in out
