"""One service in a process of its own, for the tests that kill it with SIGKILL and start it again.

    python -m tests.events.service_process SERVICE CONFIG DB_URL [--schema S] [--clock ISO-8601] [--port P]

The service is built by its composition root (services.registry) on a port the kernel picks (or P), on a
ManualClock standing at `--clock` (its peers in the test run on manual clocks too), with SQLite's
synchronous=FULL as `skylane serve` has it. It prints `listening on <address>` once it serves, and
serves until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path

from services.common.clock import ManualClock
from services.common.logging import configure_logging
from services.common.server import ServerOptions, start_service
from services.common.settings import AppSettings
from services.registry import SERVICES


async def serve(args: argparse.Namespace) -> None:
    settings = AppSettings(
        config_path=Path(args.config),
        db_url=args.db_url,
        clock=ManualClock(datetime.fromisoformat(args.clock)),
        environ={},
        db_schema=args.schema or None,
        sqlite_synchronous="FULL",
    )
    options = ServerOptions(port=args.port, metrics_port=None, config_poll_seconds=None, access_log=False)
    service = await start_service(SERVICES[args.service].build(settings), options)
    print(f"listening on {service.address}", flush=True)
    await asyncio.Event().wait()  # until killed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("config")
    parser.add_argument("db_url")
    parser.add_argument("--schema", default="")
    parser.add_argument("--clock", default="2026-01-05T09:00:00+00:00")
    parser.add_argument("--port", type=int, default=0, help="0: a port the kernel picks")
    args = parser.parse_args()
    configure_logging("warning")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
