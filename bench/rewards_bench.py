"""Rewards service benchmark (not a test): Offer, Claim and Redeem against a real `skylane serve rewards`
process on SQLite, driven from a separate load process, reported as a ratio to a no-op grpc.aio handler
measured in the same run.

Claim and Redeem need offers and coupons to work on: their `prepare` step (run in the load process before
the clock starts) creates them through the real RPCs.

    .venv/bin/python -m bench.rewards_bench [--seconds 5] [--concurrency 32] [--pool 8000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import uuid
from pathlib import Path

import grpc
import yaml

from bench.harness import REPO, PoolExhausted, drive, noop_process, report, service_process
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

POOL = int(os.environ.get("BENCH_POOL") or os.environ.get("REWARDS_BENCH_POOL") or "8000")
_offers: list[tuple[str, str]] = []  # (customer, offer id) ready to claim
_coupons: list[tuple[str, str]] = []  # (customer, coupon id) ready to redeem
_cursor = itertools.count()


def bench_config(directory: Path) -> Path:
    """The default config with a campaign open now, no caps that a benchmark would hit, and no holdout."""
    document = yaml.safe_load((REPO / "config" / "rewards.yaml").read_text(encoding="utf-8"))
    document["contact"] = {"per_day": 1_000_000, "per_week": 1_000_000}
    document["policy"].update(
        # A 50% response prior so strong that the unclaimed offers of the preparation hardly move it: the
        # policy keeps offering, and preparing N claimable offers takes about N calls.
        {"prior_alpha": 100_000, "prior_beta": 100_000, "baseline_prior_alpha": 1, "baseline_prior_beta": 99}
    )
    mall = document["campaigns"][0]
    mall.update(
        {
            "start": "2020-01-01T00:00:00+08:00",
            "end": "2099-01-01T00:00:00+08:00",
            "budget": {"total_fen": 10**15, "daily_fen": 10**14},
            "holdout_share": 0.0,
            "claims_per_customer": 1_000_000,
            "eligibility": {},
        }
    )
    document["campaigns"] = [mall]
    path = directory / "rewards.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _offer_request(customer: str) -> rewards_pb2.OfferRequest:
    return rewards_pb2.OfferRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
        customer=types_pb2.CustomerRef(ref=customer),
        scene="mall",
        profile=rewards_pb2.CustomerProfile(age=35, asset_tier="mass", channel="app", monthly_payment_count=4),
    )


async def offer(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await rewards_pb2_grpc.RewardsServiceStub(channel).Offer(_offer_request(f"bench-{worker}-{seq}-{os.getpid()}"))


async def _make_offers(channel: grpc.aio.Channel, n: int) -> list[tuple[str, str]]:
    """n offers that were made. The policy learns from unclaimed offers and makes fewer of them as the
    preparation goes on, so it asks in rounds until it has n (or has asked 20 × n customers)."""
    stub = rewards_pb2_grpc.RewardsServiceStub(channel)
    gate = asyncio.Semaphore(32)
    asked = itertools.count()

    async def one() -> tuple[str, str] | None:
        customer = f"prep-{os.getpid()}-{next(asked)}"
        async with gate:
            r = await stub.Offer(_offer_request(customer))
        return (customer, r.offer_id) if r.outcome == rewards_pb2.OFFERED else None

    made: list[tuple[str, str]] = []
    while len(made) < n and next(asked) < 20 * n:
        made.extend(x for x in await asyncio.gather(*(one() for _ in range(n - len(made)))) if x)
    return made


async def prepare_offers(channel: grpc.aio.Channel) -> None:
    _offers.extend(await _make_offers(channel, POOL))


async def claim(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    customer, offer_id = _take(_offers)
    await rewards_pb2_grpc.RewardsServiceStub(channel).Claim(
        rewards_pb2.ClaimRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
            customer=types_pb2.CustomerRef(ref=customer),
            offer_id=offer_id,
        )
    )


def _take(pool: list[tuple[str, str]]) -> tuple[str, str]:
    index = next(_cursor)
    if index >= len(pool):
        raise PoolExhausted(f"the {len(pool):,} prepared offers/coupons ran out; rerun with --pool larger")
    return pool[index]


async def prepare_coupons(channel: grpc.aio.Channel) -> None:
    stub = rewards_pb2_grpc.RewardsServiceStub(channel)
    gate = asyncio.Semaphore(32)

    async def one(customer: str, offer_id: str) -> tuple[str, str]:
        async with gate:
            r = await stub.Claim(
                rewards_pb2.ClaimRequest(
                    idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
                    customer=types_pb2.CustomerRef(ref=customer),
                    offer_id=offer_id,
                )
            )
        return customer, r.coupon.coupon_id

    _coupons.extend(await asyncio.gather(*(one(c, o) for c, o in await _make_offers(channel, POOL))))


async def redeem(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    customer, coupon_id = _take(_coupons)
    await rewards_pb2_grpc.RewardsServiceStub(channel).Redeem(
        rewards_pb2.RedeemRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
            customer=types_pb2.CustomerRef(ref=customer),
            coupon_id=coupon_id,
            order_id=f"order-{coupon_id}",
            order_amount=types_pb2.Money(fen=60_000),
            scene="mall",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=POOL, help="offers/coupons prepared for Claim and Redeem")
    args = parser.parse_args()
    os.environ["REWARDS_BENCH_POOL"] = str(args.pool)  # read by the load process
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp))
        with noop_process() as noop:
            baseline = drive(noop, "bench.harness:noop_call", concurrency=args.concurrency, seconds=args.seconds)
        with service_process("rewards", config) as address:
            rows = [
                (
                    "Offer",
                    drive(address, "bench.rewards_bench:offer", concurrency=args.concurrency, seconds=args.seconds),
                ),
                (
                    "Claim",
                    drive(
                        address,
                        "bench.rewards_bench:claim",
                        concurrency=args.concurrency,
                        seconds=args.seconds,
                        prepare="bench.rewards_bench:prepare_offers",
                    ),
                ),
                (
                    "Redeem",
                    drive(
                        address,
                        "bench.rewards_bench:redeem",
                        concurrency=args.concurrency,
                        seconds=args.seconds,
                        prepare="bench.rewards_bench:prepare_coupons",
                    ),
                ),
            ]
    report("rewards", baseline, rows, notes={"pool": args.pool, "database": "SQLite synchronous=FULL"})


if __name__ == "__main__":
    main()
