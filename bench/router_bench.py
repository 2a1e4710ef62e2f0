"""RouteApplicant throughput and latency against the no-op grpc.aio handler, measured in the same run.

The router runs as a real `skylane serve router` process on SQLite with synchronous=FULL (every
committed decision is durable); load comes from a separate process. Each call is a new applicant
(so every call records a decision), with scores spread over all tiers. Measured three times: the same
server with deciding and recording replaced by a constant answer (bench/router_ceiling.py: the ceiling
of this server stack), the real thing without partner lenders, and with the example scenario's partners
run by `skylane partner-sim` in another process (pool decisions then ping every eligible partner within
the budget and write lead + outbox rows).

    .venv/bin/python -m bench.router_bench [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import yaml
from google.protobuf.timestamp_pb2 import Timestamp

from bench.harness import REPO, drive, free_port, module_process, noop_process, report, service_process
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc

_RUN = uuid.uuid4().hex[:8]
_GRANTED = Timestamp(seconds=1_767_600_000)
_CHANNELS = [("ceair_app", "flight_booking"), ("ctrip_app", "hotel_booking"), ("sms_landing", "campaign")]


def _request(worker: int, seq: int) -> router_pb2.RouteApplicantRequest:
    n = worker * 1_000_003 + seq
    channel, scenario = _CHANNELS[n % len(_CHANNELS)]
    return router_pb2.RouteApplicantRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=f"{_RUN}-{os.getpid()}-{worker}-{seq}"),
        channel=channel,
        scenario=scenario,
        applicant=types_pb2.CustomerRef(ref=f"bench-{_RUN}-{os.getpid()}-{worker}-{seq}"),
        consents=[
            router_pb2.ConsentRecord(
                recipient_classes=["licensed_bank", "consumer_finance"], purposes=["loan_referral"], granted_at=_GRANTED
            )
        ],
        tags={
            "age": router_pb2.TagValue(int_value=22 + n % 35),
            "income_band": router_pb2.TagValue(string_value=("high", "middle", "upper_middle", "low")[n % 4]),
            "external_credit_score": router_pb2.TagValue(int_value=450 + (n * 37) % 400),
            "travel_frequency": router_pb2.TagValue(int_value=n % 20),
            "existing_customer": router_pb2.TagValue(bool_value=n % 3 == 0),
        },
        requested_amount=types_pb2.Money(fen=500_000 + (n % 10) * 100_000),
        term_months=12,
    )


async def route(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await router_pb2_grpc.RouterServiceStub(channel).RouteApplicant(_request(worker, seq))


@contextlib.contextmanager
def partner_sims() -> Iterator[dict[str, str]]:
    """`skylane partner-sim` in its own process, the example scenario's partners on free ports."""
    scenario = yaml.safe_load((REPO / "config" / "scenarios" / "partners.yaml").read_text(encoding="utf-8"))
    addresses: dict[str, str] = {}
    for partner in scenario["partners"]:
        partner["port"] = free_port()
        addresses[partner["id"]] = f"127.0.0.1:{partner['port']}"
    with tempfile.TemporaryDirectory(prefix="bench-partners-") as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
        args = [sys.executable, "-m", "services.cli", "partner-sim", "--scenario", str(path), "--no-postbacks"]
        process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL)
        try:
            for address in addresses.values():
                with grpc.insecure_channel(address) as channel:
                    grpc.channel_ready_future(channel).result(timeout=30)
            yield addresses
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def router_config(tmp: Path, partners: dict[str, str] | None) -> Path:
    """config/router.yaml with the partner registry pointed at the simulated partners (or emptied)."""
    config = yaml.safe_load((REPO / "config" / "router.yaml").read_text(encoding="utf-8"))
    if partners is None:
        config["partners"]["lenders"] = []
        config["partners"]["waterfall"] = {}
    else:
        for lender in config["partners"]["lenders"]:
            lender["endpoint"] = partners[lender["id"]]
    path = tmp / "router.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with noop_process() as address:
        baseline = drive(address, "bench.harness:noop_call", concurrency=args.concurrency, seconds=args.seconds)
    with tempfile.TemporaryDirectory(prefix="bench-router-config-") as tmp:
        ceiling_config = Path(tmp) / "ceiling"
        shutil.copytree(REPO / "config", ceiling_config)
        shutil.copy(router_config(Path(tmp), None), ceiling_config / "router.yaml")
        ceiling_server = ("--config-dir", str(ceiling_config), "--var-dir", str(Path(tmp) / "ceiling-var"))
        with module_process("bench.router_ceiling", *ceiling_server) as address:
            ceiling = drive(address, "bench.router_bench:route", concurrency=args.concurrency, seconds=args.seconds)
        with service_process("router", config_path=router_config(Path(tmp), None)) as address:
            stats = drive(address, "bench.router_bench:route", concurrency=args.concurrency, seconds=args.seconds)
        with (
            partner_sims() as partners,
            service_process("router", config_path=router_config(Path(tmp), partners)) as address,
        ):
            pooled = drive(address, "bench.router_bench:route", concurrency=args.concurrency, seconds=args.seconds)
    report(
        "router RouteApplicant",
        baseline,
        [
            ("RouteApplicant stack ceiling (real server + validation, constant decision, no database)", ceiling),
            ("RouteApplicant (SQLite, synchronous=FULL, new applicant per call, no partners)", stats),
            (
                "RouteApplicant + partner pool (partner-sim: 3 eligible partners pinged, 30-60 ms; lead + outbox)",
                pooled,
            ),
        ],
        notes={"concurrency": args.concurrency, "seconds": args.seconds},
    )


if __name__ == "__main__":
    main()
