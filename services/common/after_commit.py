"""What a unit of work reports only once it has committed: counters and domain-event log lines.

Code inside a unit of work calls `after_commit(callback)`; the callback runs once the transaction holding
the unit has committed, and never when the unit rolls back (a refused call, a dry run, a lost race), so a
counter never counts, and a log line never announces, what did not happen.

Scopes nest through a context variable: `Database.transaction` opens one and runs its callbacks after its
commit; the write batcher opens one per unit inside its shared transaction (a unit rolled back to its
savepoint drops its callbacks, the others go to the transaction's scope); `ServiceApp.write` keeps its
unit's callbacks and runs them in the caller's task once the answer is durable, so their log lines carry
the call's request id. Outside any scope a callback runs at once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType

import structlog

Callback = Callable[[], None]

_scope: ContextVar[list[Callback] | None] = ContextVar("skylane_after_commit", default=None)

log = structlog.get_logger("skylane.after_commit")


def after_commit(callback: Callback) -> None:
    """Runs callback once the enclosing unit of work has committed (at once outside any)."""
    pending = _scope.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


class deferred:
    """Collects the after_commit callbacks of the block into the list `with` binds. When the block raises
    they are dropped. When it ends normally they move to the enclosing scope, whose commit is theirs too,
    unless `keep` is set or there is none: then they stay in the list for the caller to `run` once
    committed. A class, not a generator: every write call enters two or three of these."""

    __slots__ = ("_outer", "_token", "callbacks", "keep")
    _outer: list[Callback] | None
    _token: Token[list[Callback] | None]

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.callbacks: list[Callback] = []

    def __enter__(self) -> list[Callback]:
        self._outer = _scope.get()
        self._token = _scope.set(self.callbacks)
        return self.callbacks

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        _scope.reset(self._token)
        if kind is not None:
            self.callbacks.clear()
        elif self._outer is not None and not self.keep:
            self._outer.extend(self.callbacks)
            self.callbacks.clear()


def run(callbacks: list[Callback]) -> None:
    """Runs committed callbacks; one that fails is logged and does not stop the rest."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after_commit_callback_failed")
