"""Who blocks the event loop. Client and the three servers share one loop in this process, so one
handler that computes for a second makes every call in flight look slow; a sampler thread catches
the loop's stack while it is stalled, so the report names the culprit rather than its victims."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

STALL_SECONDS = 0.25
BEAT_SECONDS = 0.02
SAMPLE_SECONDS = 0.05
OURS = ("/services/", "/tests/fuzz/")
WRAPPERS = ("interceptors.py", "edge.py", "tests/fuzz/__main__.py", "tests/fuzz/runner.py")


@dataclass
class Stall:
    started: float
    ended: float
    where: str
    cpu: float = 0.0  # CPU seconds the loop thread used meanwhile: near the wall time, it computed;
    # far below, the process was starved (other processes on the machine), not blocked by our code


@dataclass
class StallWatch:
    stalls: list[Stall] = field(default_factory=list)
    _beat: float = 0.0
    _beat_cpu: float = 0.0
    _current: Stall | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    async def run(self) -> None:
        """Heartbeat on the loop and the sampler thread beside it, until cancelled."""
        loop_thread = threading.get_ident()
        self._beat = time.perf_counter()
        sampler = threading.Thread(target=self._sample, args=(loop_thread,), daemon=True, name="fuzz-stalls")
        sampler.start()
        try:
            while True:
                self._beat_cpu, self._beat = time.thread_time(), time.perf_counter()
                await asyncio.sleep(BEAT_SECONDS)
        finally:
            self._stop.set()
            sampler.join()

    def _sample(self, loop_thread: int) -> None:
        cpu_clock = time.pthread_getcpuclockid(loop_thread)
        while not self._stop.wait(SAMPLE_SECONDS):
            now = time.perf_counter()
            if now - self._beat <= STALL_SECONDS:
                self._current = None
                continue
            if self._current is None:
                self._current = Stall(self._beat, now, describe(sys._current_frames().get(loop_thread)))
                self.stalls.append(self._current)
            self._current.ended = now
            self._current.cpu = time.clock_gettime(cpu_clock) - self._beat_cpu

    def blocking(self, started: float, ended: float) -> str:
        """What stalled the loop for most of [started, ended], or ''."""
        overlaps: dict[str, float] = {}
        for stall in self.stalls:
            overlap = min(ended, stall.ended) - max(started, stall.started)
            if overlap > 0:
                overlaps[stall.where] = overlaps.get(stall.where, 0.0) + overlap
        if not overlaps:
            return ""
        where, seconds = max(overlaps.items(), key=lambda item: item[1])
        return where if seconds > (ended - started) / 2 else ""

    def summary(self) -> list[tuple[str, int, float, float, float]]:
        """(where, stalls, total seconds, longest, CPU share) per culprit, worst first."""
        by_where: dict[str, list[Stall]] = {}
        for stall in self.stalls:
            by_where.setdefault(stall.where, []).append(stall)
        rows = []
        for where, stalls in by_where.items():
            walls = [s.ended - s.started for s in stalls]
            rows.append((where, len(stalls), sum(walls), max(walls), sum(s.cpu for s in stalls) / sum(walls)))
        return sorted(rows, key=lambda row: -row[2])


def describe(frame: FrameType | None) -> str:
    """The outermost and innermost frames of our code under the call wrappers, and the innermost module."""
    stack = []
    while frame is not None:
        stack.append(frame)
        frame = frame.f_back
    if not stack:
        return "?"
    ours = [f for f in stack if _is_ours(f.f_code.co_filename)]  # innermost first
    picks = [ours[-1], ours[0]] if ours else []
    seen = [f"{_short(f.f_code.co_filename)}:{f.f_code.co_name}" for f in picks]
    innermost = _short(stack[0].f_code.co_filename)  # its module only: the line changes between samples
    if not any(text.startswith(innermost + ":") for text in seen):
        seen.append(innermost)
    return " > ".join(dict.fromkeys(seen))


def _is_ours(filename: str) -> bool:
    """Our code, minus what wraps every call (the entry point, the call wrappers, the fuzz driver)."""
    if filename.endswith(WRAPPERS):
        return False
    return any(part in filename for part in OURS)


def _short(filename: str) -> str:
    for part in OURS:
        if part in filename:
            return part.strip("/") + "/" + filename.rsplit(part, 1)[-1]
    return filename.rsplit("site-packages/", 1)[-1]
