"""Partner outage recovery: how long after a partner lender comes back until it accepts leads again.

A real router (`skylane serve router`, config/router.yaml with its production defaults: real clock,
background dispatcher, breaker and reconnect settings) routes a steady stream of applicants; its only
partner lender is `skylane partner-sim` in its own process. Each run kills the partner (SIGKILL), waits
out the outage, starts it again on the same port and measures

  recovery = partner process listening again → first lead the partner accepted (lead POSTED)

plus how many pool leads went unsold while the partner was already back. `--legacy` approximates the
behaviour before the fix (gRPC's default reconnect backoff, 30 s breaker open period) for comparison.

    .venv/bin/python -m bench.partner_recovery                 # 5 runs, 30 s outages
    .venv/bin/python -m bench.partner_recovery --runs 3 --outage 10 --legacy
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

from bench.harness import REPO, RESULTS, free_port, service_process
from bench.router_bench import _request
from services.router.partners import store
from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2, leads_pb2_grpc, router_pb2, router_pb2_grpc

PARTNER = "steadybank"
GIVE_UP_S = 180.0  # a run that has not recovered by then is reported as failed
# gRPC's own reconnect defaults and the breaker's former open period: what `--legacy` puts back.
LEGACY_RECONNECT = {"initial_backoff_ms": 1000, "max_backoff_ms": 120_000, "connect_timeout_ms": 20_000}
LEGACY_OPEN_MS = 30_000


@dataclass
class Run:
    recovery_s: float | None  # partner listening again → first lead it accepted
    first_offer_s: float | None  # partner listening again → first lead offered to it (its ping answered)
    unsold_while_back: int  # pool leads with no bidder between the partner's return and its first offer


class PartnerProcess:
    """`skylane partner-sim` serving PARTNER on a fixed port in its own process."""

    def __init__(self, directory: Path, port: int) -> None:
        self.port = port
        spec = {"id": PARTNER, "port": port, "bid_fen": 3000, "bid_spread": 0.0, "accept_rate": 1.0, "latency_ms": 5}
        self.scenario = directory / "scenario.yaml"
        self.scenario.write_text(yaml.safe_dump({"partners": [spec]}), encoding="utf-8")
        self.process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[bytes] | None = None

    async def start(self) -> float:
        """Starts it; returns the monotonic time at which it said it was listening."""
        args = ["-m", "services.cli", "partner-sim", "--scenario", str(self.scenario), "--no-postbacks"]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        assert self.process.stdout is not None
        seen = b""
        while line := await asyncio.wait_for(self.process.stdout.readline(), 60):
            seen += line
            if b"listening on" in line:
                listening = time.monotonic()
                self._drain = asyncio.create_task(self.process.stdout.read())  # a full pipe must never stall it
                return listening
        raise RuntimeError(f"partner-sim exited: {seen.decode(errors='replace')[-2000:]}")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        if self._drain is not None:
            await self._drain


@dataclass
class Traffic:
    """A steady stream of RouteApplicant calls, and the partner's leads watched until they are POSTED."""

    channel: grpc.aio.Channel
    interval_s: float
    decisions: list[tuple[float, bool]] = field(default_factory=list)  # (answered at, offered to PARTNER)
    offered: dict[str, float] = field(default_factory=dict)  # lead id → answered at, until POSTED
    posted: list[float] = field(default_factory=list)  # when the watcher saw a lead POSTED
    errors: int = 0
    last_error: str = ""

    async def route(self) -> None:
        stub = router_pb2_grpc.RouterServiceStub(self.channel)
        seq = 0
        while True:
            seq += 1
            try:
                decision = await stub.RouteApplicant(_request(0, seq))
            except grpc.aio.AioRpcError as err:  # the router itself is not what is measured: note it, go on
                self.errors += 1
                self.last_error = err.code().name
                await asyncio.sleep(self.interval_s)
                continue
            if decision.destination == router_pb2.DESTINATION_PARTNER_POOL:
                now = time.monotonic()
                to_partner = decision.partner.partner_id == PARTNER
                self.decisions.append((now, to_partner))
                if to_partner:
                    self.offered[decision.partner.lead_id] = now
            await asyncio.sleep(self.interval_s)

    async def watch(self) -> None:
        leads = leads_pb2_grpc.LeadServiceStub(self.channel)
        while True:
            for lead_id in list(self.offered):
                trace = await leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=lead_id))
                if trace.status != store.OFFERED:  # POSTED, or settled otherwise: no longer waiting
                    del self.offered[lead_id]
                    if trace.status == store.POSTED:
                        self.posted.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def first_posted_after(self, moment: float) -> float | None:
        deadline = moment + GIVE_UP_S
        while time.monotonic() < deadline:
            later = [t for t in self.posted if t > moment]
            if later:
                return min(later)
            await asyncio.sleep(0.005)
        return None

    def summary_after(self, moment: float) -> tuple[float | None, int]:
        """Seconds from moment to the first pool lead offered to the partner; pool leads unsold before it."""
        after = [(t, to_partner) for t, to_partner in self.decisions if t > moment]
        first = next((t for t, to_partner in after if to_partner), None)
        unsold = sum(1 for t, to_partner in after if not to_partner and (first is None or t < first))
        return (first - moment if first is not None else None), unsold


async def one_run(traffic: Traffic, partner: PartnerProcess, outage_s: float) -> Run:
    await traffic.first_posted_after(time.monotonic())  # steady state: the partner takes leads
    await partner.kill()
    await asyncio.sleep(outage_s)
    back = await partner.start()
    accepted = await traffic.first_posted_after(back)
    first_offer_s, unsold = traffic.summary_after(back)
    return Run(accepted - back if accepted is not None else None, first_offer_s, unsold)


async def measure(address: str, partner: PartnerProcess, args: argparse.Namespace) -> tuple[list[Run], int]:
    """The runs, and how many of the partner's deliveries were dead-lettered over all of them."""
    runs: list[Run] = []
    await partner.start()
    async with grpc.aio.insecure_channel(address) as channel:
        traffic = Traffic(channel, args.interval_ms / 1000)
        tasks = [asyncio.create_task(traffic.route()), asyncio.create_task(traffic.watch())]
        try:
            for i in range(args.runs):
                run = await one_run(traffic, partner, args.outage)
                runs.append(run)
                shown = f"{run.recovery_s:.3f} s" if run.recovery_s is not None else f"none within {GIVE_UP_S:.0f} s"
                print(f"run {i + 1}/{args.runs}: recovery {shown}, unsold while back {run.unsold_while_back}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await partner.kill()
        dead = await leads_pb2_grpc.LeadServiceStub(channel).ListDeadLetters(
            leads_pb2.ListDeadLettersRequest(page=types_pb2.PageRequest(page_size=500), partner_id=PARTNER)
        )
    if traffic.errors:
        print(f"RouteApplicant errors during the runs: {traffic.errors} (last: {traffic.last_error})")
    return runs, len(dead.dead_letters)


def router_config(directory: Path, endpoint: str, legacy: bool) -> Path:
    """config/router.yaml as shipped, with PARTNER as the only lender, at the simulated partner."""
    config = yaml.safe_load((REPO / "config" / "router.yaml").read_text(encoding="utf-8"))
    partners = config["partners"]
    lender = next(p for p in partners["lenders"] if p["id"] == PARTNER)
    lender.update(endpoint=endpoint)
    lender.pop("caps", None)  # thousands of leads over the runs: caps are not what is measured
    partners["lenders"] = [lender]
    partners["waterfall"] = {tier: [PARTNER] for tier in partners.get("waterfall", {})}
    if legacy:
        lender["reconnect"] = LEGACY_RECONNECT
        partners["delivery"]["breaker_cooldown_ms"] = LEGACY_OPEN_MS
    path = directory / "router.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def summarize(runs: list[Run]) -> dict[str, Any]:
    times = [r.recovery_s for r in runs if r.recovery_s is not None]
    unsold = [r.unsold_while_back for r in runs]
    out: dict[str, Any] = {"runs": len(runs), "recovered": len(times), "unsold_while_back_median": 0}
    if times:
        out |= {
            "recovery_median_s": round(statistics.median(times), 3),
            "recovery_min_s": round(min(times), 3),
            "recovery_max_s": round(max(times), 3),
            "recovery_stdev_s": round(statistics.stdev(times), 3) if len(times) > 1 else 0.0,
        }
    out["unsold_while_back_median"] = statistics.median(unsold) if unsold else 0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the partner stays down (default 30)")
    parser.add_argument("--interval-ms", type=float, default=20.0, help="pause between RouteApplicant calls")
    parser.add_argument("--legacy", action="store_true", help="gRPC reconnect defaults, 30 s breaker open period")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        directory = Path(tmp)
        partner = PartnerProcess(directory, free_port())
        config = router_config(directory, f"127.0.0.1:{partner.port}", args.legacy)
        with service_process("router", config_path=config) as address:
            runs, dead_letters = asyncio.run(measure(address, partner, args))
    summary = {**summarize(runs), "dead_letters": dead_letters}
    label = "legacy (gRPC reconnect defaults, 30 s open period)" if args.legacy else "production defaults"
    print(f"partner recovery, {label}, {args.outage:.0f} s outages: {json.dumps(summary)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "partner_recovery_legacy.json" if args.legacy else "partner_recovery.json"
    payload = {"settings": vars(args), "summary": summary, "runs": [asdict(r) for r in runs]}
    (RESULTS / name).write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
