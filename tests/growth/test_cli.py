"""`skylane growth ...` as a real process against a running server (gRPC over a real socket)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.growth.helpers import Client

REPO = Path(__file__).resolve().parents[2]


async def _skylane(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_statement_and_maintenance_commands_talk_to_the_server(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 70)
    await growth.spend(ref, 20)
    address = growth.h.service.address

    code, out, _ = await _skylane("growth", "statement", "--member", ref, "--address", address)
    assert code == 0
    assert f"member {ref}  level l0" in out
    assert "points  available 50  held 0  pending 0" in out
    assert "spend" in out and "earn" in out

    growth.h.clock.advance(days=31)  # the lot expires (after_days: 30)
    code, out, _ = await _skylane("growth", "maintenance", "--address", address, "--idempotency-key", "cli-pass-1")
    assert code == 0 and out.startswith("lots expired 1,")
    code, out, _ = await _skylane("growth", "maintenance", "--address", address, "--idempotency-key", "cli-pass-1")
    assert code == 0 and out.startswith("lots expired 1,")  # a retry answers the first pass
    assert (await growth.balance(ref)).points_available == 0

    code, _, err = await _skylane("growth", "statement", "--member", "cust_not_enrolled_01", "--address", address)
    assert code == 1 and "NOT_FOUND" in err
