"""Baseline benchmark of the shared runtime: Admin.Probe through the full interceptor chain
(request id, access-log + metrics, error mapping) against the no-op handler.

    .venv/bin/python -m bench.common_bench
"""

from __future__ import annotations

import argparse

import grpc

from bench.harness import drive, noop_process, report, service_process
from skylane.common.v1 import admin_pb2, admin_pb2_grpc


async def probe(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with noop_process() as address:
        baseline = drive(address, "bench.harness:noop_call", concurrency=args.concurrency, seconds=args.seconds)
    with service_process("router") as address:
        stats = drive(address, "bench.common_bench:probe", concurrency=args.concurrency, seconds=args.seconds)
    report("common runtime", baseline, [("Admin.Probe (router server, full interceptor chain)", stats)])


if __name__ == "__main__":
    main()
