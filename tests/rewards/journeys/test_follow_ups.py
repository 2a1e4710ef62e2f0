"""The follow-up list ops export (wave 4 follow-ups and touches routed past their validity), over gRPC page by
page and through `skylane rewards follow-ups` as CSV and JSON: the customer's hashed reference and nothing
more personal, their time zone and local day, why; bad requests refused. And `skylane rewards dry-run`
against the same server."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from services.cli import main
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, Harness, field_violations, key
from tests.rewards.helpers import offer, stub
from tests.rewards.journeys.helpers import config, journeys_service, reached

FOLLOW_UP = """
  - id: dormant-follow-up
    campaign: payroll
    wave: 4
    event: outside.account_dormant
"""
COLUMNS = ["trigger_id", "campaign_id", "wave", "customer_ref", "entry", "kind", "reason", "at", "time_zone",
           "local_day"]  # fmt: skip


async def send(h: Harness, customer: str, kind: str, zone: str = "") -> None:
    event = events_pb2.OutsideEvent(
        idempotency_key=key(), source="bank", type=kind, customer=types_pb2.CustomerRef(ref=customer), time_zone=zone
    )
    stub_ = events_pb2_grpc.EventIngestServiceStub(h.channel)
    await stub_.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[event]))


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))  # blocking gRPC, off the server's loop


# A customer ref as channels send it, a 64-character hash: a page token that carries it is longer than the
# 128 characters an opaque id may have.
F1 = hashlib.sha256(b"customer f1").hexdigest()


async def test_the_follow_up_list_is_exported_page_by_page_as_csv_and_json(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, config() + FOLLOW_UP) as h:
        s = stub(h)
        await send(h, F1, "account_dormant", "Europe/London")
        await reached(h, "dormant-follow-up", F1, "ENTERED")
        for _ in range(3):  # Monday's touches used up: customer e's payroll touch waits, then is routed
            await offer(s, "e")
        await send(h, "cust-hash-e", "payroll_credited")
        await reached(h, "payroll-signin", "cust-hash-e", "ENTERED")
        assert await h.app.passes.journeys() == 0
        h.clock.set(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
        await h.app.passes.journeys()
        h.clock.set(datetime(2026, 1, 6, 13, 0, tzinfo=UTC))  # Tuesday 21:00 local: past the 26 hours
        await h.app.passes.journeys()

        pages, token = [], ""
        while True:
            page = await s.ListFollowUps(rewards_pb2.ListFollowUpsRequest(page_size=1, page_token=token))
            pages.append([(f.trigger_id, f.customer.ref, f.kind, f.reason, f.time_zone, f.local_day, f.wave)
                          for f in page.follow_ups])  # fmt: skip
            if not (token := page.next_page_token):
                break
        assert pages == [
            [("dormant-follow-up", F1, "FOLLOW_UP", "", "Europe/London", "2026-01-05", 4)],
            [("payroll-signin", "cust-hash-e", "ROUTED", "VALIDITY_PASSED; waited for CONTACT_CAP_DAY",
              "Asia/Shanghai", "2026-01-06", 1)],
        ]  # fmt: skip
        only = await s.ListFollowUps(rewards_pb2.ListFollowUpsRequest(trigger_id="payroll-signin"))
        assert [f.customer.ref for f in only.follow_ups] == ["cust-hash-e"]

        csv_path, json_path = tmp_path / "follow-ups.csv", tmp_path / "follow-ups.json"
        common = ["--address", h.service.address, "--since", "2026-01-01T00:00:00+08:00",
                  "--until", "2026-01-08T00:00:00+08:00"]  # fmt: skip
        assert await cli("rewards", "follow-ups", *common, "--out", str(csv_path)) == 0
        assert await cli("rewards", "follow-ups", *common, "--format", "json", "--out", str(json_path)) == 0
        with csv_path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == COLUMNS  # the hashed reference, never a name, phone or ID number
        assert [(r["customer_ref"], r["kind"], r["time_zone"]) for r in rows] == [
            (F1, "FOLLOW_UP", "Europe/London"),
            ("cust-hash-e", "ROUTED", "Asia/Shanghai"),
        ]
        document = json.loads(json_path.read_text(encoding="utf-8"))
        assert [{k: str(v) for k, v in r.items()} for r in document["follow_ups"]] == rows


async def test_bad_export_requests_are_refused(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, config() + FOLLOW_UP) as h:
        s = stub(h)
        bad = [
            ("page_token", rewards_pb2.ListFollowUpsRequest(page_token="not-a-token")),
            ("page_size", rewards_pb2.ListFollowUpsRequest(page_size=5000)),
            ("campaign_id", rewards_pb2.ListFollowUpsRequest(campaign_id="nowhere")),
        ]
        since_after_until = rewards_pb2.ListFollowUpsRequest()
        since_after_until.since.FromDatetime(datetime(2026, 2, 1, tzinfo=UTC))
        since_after_until.until.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
        bad.append(("since", since_after_until))
        for field, request in bad:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.ListFollowUps(request)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in field_violations(caught.value)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _key(
    at: object = "2026-01-05T02:00:00+00:00", trigger: object = "t", customer: object = "c", entry: object = 1
) -> str:
    return _token(json.dumps([at, trigger, customer, entry]).encode())


async def test_a_crafted_page_token_is_refused_as_a_page_token(db_target: DbTarget, tmp_path: Path) -> None:
    """Each of these reached the database and failed there as INTERNAL (or would on PostgreSQL)."""
    async with journeys_service(db_target, tmp_path, config() + FOLLOW_UP) as h:
        s = stub(h)
        crafted = {
            "Infinity entry": _token(b'["2026-01-05T02:00:00+00:00", "t", "c", Infinity]'),
            "NaN entry": _token(b'["2026-01-05T02:00:00+00:00", "t", "c", NaN]'),
            "1e308 entry": _key(entry=1e308),
            "10**30 entry": _key(entry=10**30),
            "entry past int32": _key(entry=2**31),
            "negative entry": _key(entry=-1),
            "boolean entry": _key(entry=True),
            "text entry": _key(entry="1"),
            "naive at": _key(at="2026-01-05T02:00:00"),
            "year 1 at +14:00": _key(at="0001-01-01T00:00:00+14:00"),
            "9999-12-31 at -12:00": _key(at="9999-12-31T23:59:59-12:00"),
            "number at": _key(at=1767578400),
            "NUL in trigger": _key(trigger="t\x00"),
            "surrogate in customer": _key(customer="\ud800"),
            "empty customer": _key(customer=""),
            "number customer": _key(customer=7),
            "three items": _token(b'["2026-01-05T02:00:00+00:00", "t", "c"]'),
            "an object": _token(b'{"at": 1}'),
        }
        for name, token in crafted.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.ListFollowUps(rewards_pb2.ListFollowUpsRequest(page_token=token))
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            assert set(field_violations(caught.value)) == {"page_token"}, name
        # A well-formed key at any offset is a position: an (empty) page after it.
        for token in (_key(), _key(at="2026-01-05T10:00:00+08:00", entry=2**31 - 1)):
            assert not (await s.ListFollowUps(rewards_pb2.ListFollowUpsRequest(page_token=token))).follow_ups


async def test_the_dry_run_command(db_target: DbTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with journeys_service(db_target, tmp_path, config()) as h:
        await send(h, "cust-hash-x", "account_dormant")
        await send(h, "cust-hash-y", "account_dormant", "America/New_York")
        draft = tmp_path / "draft.yaml"
        draft.write_text("triggers:" + FOLLOW_UP, encoding="utf-8")
        capsys.readouterr()
        assert await cli("rewards", "dry-run", str(draft), "--days", "3", "--entries", "--json",
                         "--address", h.service.address) == 0  # fmt: skip
        document = json.loads(capsys.readouterr().out)
        (row,) = document["triggers"]
        assert (row["trigger_id"], row["entered"], row["follow_up"]) == ("dormant-follow-up", 2, 2)
        assert sorted((e["customer_ref"], e["fate"]) for e in document["entries"]) == [
            ("cust-hash-x", "FOLLOW_UP"),
            ("cust-hash-y", "FOLLOW_UP"),
        ]
        async with h.app.db.read() as session:  # a dry run: the trigger is not live, nothing was entered
            from sqlalchemy import text

            assert (await session.execute(text("SELECT count(*) FROM journeys"))).scalar_one() == 0
