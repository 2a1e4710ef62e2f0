"""The events benchmark still runs: one short run of event to effect and of the consumer's catch-up
against real servers on SQLite. Nothing here asserts on speed (the machine may be busy): every payment
has its effect on growth, and the catch-up counts the backlog it applied."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO


def test_event_to_effect_and_catch_up_run_and_every_payment_earns(tmp_path: Path) -> None:
    out = tmp_path / "events.json"
    command = [sys.executable, "-m", "bench.events_bench", "--only", "latency,catchup", "--runs", "1"]
    command += ["--seconds", "1", "--latency-seconds", "1", "--rate", "20", "--processes", "1", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    measured = json.loads(out.read_text())
    run = measured["latency"]["runs"][0]
    assert run["payments"] >= 20 and run["failed_calls"] == 0
    assert run["effects"] == run["recorded"] == run["payments"] and run["consumer_p50_ms"] is not None
    assert measured["latency"]["median"]["effects_missing"] == 0
    caught = measured["catch_up"]["runs"][0]
    assert caught["backlog"] > 0 and caught["applied"] == caught["backlog"] and caught["events_per_s"] > 0
