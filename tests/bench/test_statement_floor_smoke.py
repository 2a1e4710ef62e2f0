"""The K-statement floor still runs and writes what it says: K rows per OK call, each call committed
durably before it is answered. Nothing here asserts on speed (the machine may be busy)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench import h2load
from bench.floor_server import statement_tables
from bench.growth_bench import record_activity_body
from bench.harness import bench_server
from bench.statement_floor import PATH


def test_every_call_writes_one_row_per_statement(tmp_path: Path) -> None:
    db = tmp_path / "floor.db"
    with bench_server("bench.floor_server", "--db", str(db), "--unique", "--statements", "3") as server:
        result = h2load.run(server, PATH, record_activity_body(), method="RecordActivity", seconds=1, warmup=0)
    assert result.ok > 0 and result.not_ok == {}
    with sqlite3.connect(db) as conn:
        counts = [conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in statement_tables(3)]
        activities = conn.execute("SELECT count(*) FROM activities").fetchone()[0]
    # Every answered call's rows were committed; calls cut off when h2load stopped may have written too.
    assert counts[0] >= result.ok and len(set(counts)) == 1
    assert activities == 0  # the one-statement path is not taken
