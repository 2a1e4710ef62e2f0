"""The scale-out benchmark's core share: a busy process held to a share of a core, or a clear refusal."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench import cpu_quota
from bench.harness import cpu_seconds


def test_a_busy_process_is_held_to_its_share_and_its_group_removed_after() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        if not cpu_quota.available():
            with pytest.raises(cpu_quota.QuotaUnavailable):
                with cpu_quota.capped(busy.pid, 0.05):
                    pass
            return
        with cpu_quota.capped(busy.pid, 0.05) as group:
            started, cpu_before = time.monotonic(), cpu_seconds(busy.pid)
            time.sleep(1.5)
            share = (cpu_seconds(busy.pid) - cpu_before) / (time.monotonic() - started)
            throttled = cpu_quota.throttled_seconds(group)
        assert throttled > 0  # the kernel held it back: the quota was in force
        assert share < 0.3  # a spinning process left alone takes a whole core
        assert not group.exists()
    finally:
        busy.kill()
        busy.wait()


def test_a_share_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        with cpu_quota.capped(1, 0.0):
            pass
