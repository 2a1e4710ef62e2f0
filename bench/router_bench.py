"""RouteApplicant throughput and latency against the no-op grpc.aio handler, measured in the same run.

The router runs as a real `skylane serve router` process on SQLite with synchronous=FULL (every
committed decision is durable); load comes from a separate process. Each call is a new applicant
(so every call records a decision), with scores spread over all tiers.

    .venv/bin/python -m bench.router_bench [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import os
import uuid

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bench.harness import drive, noop_process, report, service_process
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
                recipient_classes=["licensed_bank"], purposes=["loan_referral"], granted_at=_GRANTED
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with noop_process() as address:
        baseline = drive(address, "bench.harness:noop_call", concurrency=args.concurrency, seconds=args.seconds)
    with service_process("router") as address:
        stats = drive(address, "bench.router_bench:route", concurrency=args.concurrency, seconds=args.seconds)
    report(
        "router RouteApplicant",
        baseline,
        [("RouteApplicant (SQLite, synchronous=FULL, new applicant per call)", stats)],
        notes={"concurrency": args.concurrency, "seconds": args.seconds},
    )


if __name__ == "__main__":
    main()
