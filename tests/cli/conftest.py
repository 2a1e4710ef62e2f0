"""The whole suite, running for the CLI tests: a short demo day (services/demo) on free ports, left up while
the tests run `skylane` commands against it.

The demo runs in a thread of its own with its own event loop; the tests call the CLI (blocking gRPC) from the
test thread, and reach into the suite (flip a partner lender to failing, settle deliveries) through
`Running.on_suite_loop`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from services.common.logging import configure_logging
from services.demo.app import Suite
from services.demo.service.run import DemoOptions, run_demo
from tests.helpers import REPO

DAY = date(2026, 3, 9)  # a Monday


@dataclass
class Running:
    suite: Suite
    report: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    options: DemoOptions
    extra: dict[str, Any] = field(default_factory=dict)

    def address(self, service: str) -> str:
        return self.suite.address(service)

    def on_suite_loop(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("cli-suite")
    log = (folder / "services.log").open("w", encoding="utf-8")
    configure_logging("warning", stream=log, cache=False)  # keep the services' lines off the CLI's stdout
    options = DemoOptions(
        seed=3,
        day=DAY,
        customers=60,
        applicants=20,
        config_dir=REPO / "config",
        var_dir=folder,
        partner_scenario=REPO / "config" / "scenarios" / "partners.yaml",
        # One failed post makes a dead letter, so `dead-letters list|replay` have something to show.
        overrides={"router": {"partners": {"delivery": {"max_attempts": 1}}}},
    )
    ready: Future[Running] = Future()
    stop = threading.Event()

    async def keep_up(suite: Suite, report: dict[str, Any]) -> None:
        ready.set_result(Running(suite, report, asyncio.get_running_loop(), options))
        await asyncio.to_thread(stop.wait)

    def main() -> None:
        try:
            asyncio.run(run_demo(options, after=keep_up))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)

    thread = threading.Thread(target=main, name="demo-suite", daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=600)
    finally:
        stop.set()
        thread.join(timeout=60)
        log.close()
        configure_logging("warning", cache=False)
