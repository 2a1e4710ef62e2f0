"""A process held to a share of one core, through the kernel's CPU controller (cgroup v1 `cpu` or v2 `cpu.max`).

The scale-out benchmark uses it to simulate a machine with more, slower cores than this one: each server
process capped at a fraction of a core is a process with a core of its own, while the database and the
load generator keep the rest of the machine. The quota is enforced per period (the kernel's default, 100 ms;
`SKYLANE_BENCH_CPU_PERIOD_US` to change it): within each period a capped process runs until it has used its
share, then waits for the next period, so its latencies include those waits. A shorter period waits less at
a time but stops the process more often, and each stop costs it CPU of its own (caches, timers catching up),
which a slower core would not: the default period keeps that cost smallest.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

PERIOD_US = int(os.environ.get("SKYLANE_BENCH_CPU_PERIOD_US", "100000"))  # the kernel's default period
V1_ROOT = Path("/sys/fs/cgroup/cpu")
V2_ROOT = Path("/sys/fs/cgroup")


class QuotaUnavailable(RuntimeError):
    """This machine gives no writable CPU controller (not root, or no cgroup CPU controller)."""


def _root() -> tuple[Path, int]:
    """The controller's directory and its cgroup version."""
    if (V1_ROOT / "cpu.cfs_quota_us").exists() and os.access(V1_ROOT, os.W_OK):
        return V1_ROOT, 1
    controllers = V2_ROOT / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split() and os.access(V2_ROOT, os.W_OK):
        return V2_ROOT, 2
    raise QuotaUnavailable("no writable cgroup CPU controller (needs root and /sys/fs/cgroup/cpu or cgroup v2's cpu)")


def available() -> bool:
    try:
        _root()
    except QuotaUnavailable:
        return False
    return True


def _limit(group: Path, version: int, share: float) -> None:
    quota = max(1_000, int(PERIOD_US * share))
    if version == 1:
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")


@contextlib.contextmanager
def capped(pid: int, share: float) -> Iterator[Path]:
    """Holds process `pid` (all its threads) to `share` of one core until the block ends."""
    if share <= 0:
        raise ValueError(f"a core share must be positive, got {share}")
    root, version = _root()
    group = root / f"skylane-bench-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        _limit(group, version, share)
        (group / "cgroup.procs").write_text(str(pid))
        yield group
    finally:
        with contextlib.suppress(OSError):
            for task in (group / "cgroup.procs").read_text().split():
                (root / "cgroup.procs").write_text(task)
        with contextlib.suppress(OSError):
            group.rmdir()


def throttled_seconds(group: Path) -> float:
    """Time the group's processes were held back by the quota so far (cpu.stat)."""
    stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines() if line.strip())
    if "throttled_time" in stat:  # v1: nanoseconds
        return int(stat["throttled_time"]) / 1e9
    return int(stat.get("throttled_usec", 0)) / 1e6
