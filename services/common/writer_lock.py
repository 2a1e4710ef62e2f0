"""One SQLite writer at a time across processes, handed over without polling.

SQLite lets one process write and makes the others poll: its busy handler sleeps 1, 2, 5, 10 … ms
between retries, so two processes writing one file (replicas of a service on one host) spend their
latency asleep. An exclusive flock on a file beside the database queues the writers in the kernel
instead: the next one wakes the moment the lock is released. Inside a process an asyncio.Lock queues
the tasks first, so at most one thread per process waits on the flock.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._local = asyncio.Lock()

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self._local:
            fd = self._descriptor()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # uncontended: no thread hop
            except BlockingIOError:
                await _wait_for_flock(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def _wait_for_flock(fd: int) -> None:
    waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        # The thread still gets the lock after we stop waiting: give it back as soon as it does.
        waiting.add_done_callback(lambda done: _release_if_taken(done, fd))
        raise


def _release_if_taken(done: asyncio.Future[None], fd: int) -> None:
    if done.exception() is None:
        fcntl.flock(fd, fcntl.LOCK_UN)
