"""A short seeded fuzz run on each engine (tests/fuzz): every unary method of every server, found from
the descriptors, gets every mutation at least once. No timing is asserted here (the long run,
`python -m tests.fuzz`, reports slow calls): only that no call ends INTERNAL or UNKNOWN and that every
server still answers health afterwards."""

from __future__ import annotations

from pathlib import Path

from services.registry import SERVICES
from skylane.common.v1 import admin_pb2
from tests.fuzz.report import failure_groups
from tests.fuzz.runner import fuzz

PER_METHOD = 45  # the warm-up rounds plus one call per mutation of the richest request
SEED = 20260105


async def test_fuzzed_requests_never_end_internal_or_unknown(engine: str, tmp_path: Path) -> None:
    results = await fuzz(engine, tmp_path, seed=SEED, per_method=PER_METHOD)

    admin = admin_pb2.DESCRIPTOR.services_by_name["Admin"].name
    servers = {label.split(":", 1)[0] for label in results.codes}
    assert servers == set(SERVICES)
    assert all(f"{name}:{admin}/Probe" in results.codes for name in SERVICES)
    assert min(sum(counts.values()) for counts in results.codes.values()) >= 20
    assert not results.failures, "\n" + failure_groups(results)
    assert not results.crashed, f"stopped answering health: {results.crashed}"
