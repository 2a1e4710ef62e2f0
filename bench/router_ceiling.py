"""The router server with deciding and recording taken out: where RouteApplicant's budget goes.

Runs the production router exactly as `skylane serve router` does (the edge, access log, metrics, health, reflection,
config, validation of every request into a RouteCommand, response serialisation) except that
`RoutingService.route` is replaced by a constant decision: no scoring, no database. Its throughput is
the ceiling that no storage or scoring design can exceed in this server stack; the benchmark reports it
beside the real thing so the gap is split into "stack" and "deciding + durable record".

    .venv/bin/python -m bench.router_ceiling --port P --config-dir DIR --var-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from services.common.logging import configure_logging
from services.common.server import ServerOptions, serve_until_signalled
from services.common.settings import AppSettings
from services.router.app import build
from services.router.domain.model import Arm, Destination, PolicyDecision, Reason
from services.router.service import RouteCommand, decision_proto, new_id
from skylane.router.v1 import router_pb2

_DECISION = PolicyDecision(
    policy_version="ceiling",
    arm=Arm.CHAMPION,
    tier="near_prime",
    score=600,
    destination=Destination.PARTNER_POOL,
    product_id="",
    reasons=(Reason("TIER_NEAR_PRIME", "score 600 is in tier near_prime"),),
)


class ConstantRouting:
    """Stands in for RoutingService: answers every valid command with the same kind of decision."""

    async def route(self, command: RouteCommand) -> router_pb2.RoutingDecision:
        return decision_proto(_DECISION, new_id(), datetime.now(UTC), "ceiling", command.channel)

    async def stop(self) -> None:
        return None


async def _serve(args: argparse.Namespace) -> int:
    settings = AppSettings(
        config_path=Path(args.config_dir) / "router.yaml",
        db_url=f"sqlite+aiosqlite:///{Path(args.var_dir) / 'router.db'}",
        environ=dict(os.environ),
    )
    app = build(settings)
    app.routing = ConstantRouting()  # type: ignore[assignment]
    # As `skylane serve` runs by default: access log on, metrics on (any free port).
    options = ServerOptions(port=args.port, metrics_port=0, grace_seconds=2)
    return await serve_until_signalled([(app, options)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--var-dir", required=True)
    args = parser.parse_args()
    configure_logging("info")
    sys.setswitchinterval(0.0005)  # as `skylane serve` does
    raise SystemExit(asyncio.run(_serve(args)))


if __name__ == "__main__":
    main()
