"""Every `skylane` ops command against the running suite (tests/cli/conftest.py), read through `--json`.

The commands run in this process (services.cli.main, blocking gRPC) against servers on free ports; the
text output is checked where the issue named a fault (versions, candidate off, validate)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from services.cli import main
from services.demo.domain.world import population
from services.router.sim.partner_sim import RunningSim
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.cli.conftest import DAY, Running

SINCE, UNTIL = f"{DAY.isoformat()}T00:00", f"{DAY.isoformat()}T23:59:59"


def skylane(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def skylane_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    return json.loads(skylane(capsys, *args, "--json"))


def route(running: Running, *, score: int, age: int = 33) -> router_pb2.RoutingDecision:
    """One applicant through RouteApplicant (as a channel app would), at the suite's clock."""
    granted = running.suite.clock.now()
    request = router_pb2.RouteApplicantRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
        channel="ctrip_app",
        scenario="flight_booking",
        applicant=types_pb2.CustomerRef(ref=f"cust_{uuid.uuid4().hex[:20]}"),
        consents=[
            router_pb2.ConsentRecord(
                recipient_classes=["consumer_finance", "licensed_bank"],
                purposes=["loan_referral"],
                granted_at=_stamp(granted),
            )
        ],
        tags={
            "age": router_pb2.TagValue(int_value=age),
            "region": router_pb2.TagValue(string_value="370100"),
            "external_credit_score": router_pb2.TagValue(int_value=score),
            "income_band": router_pb2.TagValue(string_value="middle"),
        },
        requested_amount=types_pb2.Money(fen=2_000_000),
        term_months=12,
    )
    with grpc.insecure_channel(running.address("router")) as channel:
        return router_pb2_grpc.RouterServiceStub(channel).RouteApplicant(request, timeout=30)


def _stamp(at: Any) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def candidate_file(running: Running, tmp_path: Path, prime: int) -> Path:
    document = yaml.safe_load(running.suite.config_paths["router"].read_text(encoding="utf-8"))
    for tier in document["policy"]["tiers"]:
        if tier["name"] == "prime":
            tier["min_score"] = prime
    path = tmp_path / f"candidate-{prime}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# --- Admin commands of every service ---------------------------------------------------------------------


@pytest.mark.parametrize("service", ["router", "growth", "rewards"])
def test_config_reload_validate_and_probe(running: Running, capsys: pytest.CaptureFixture[str], service: str) -> None:
    address = ("--address", running.address(service))
    info = skylane_json(capsys, service, "config", *address)
    assert info["service"] == service and info["timezone"] == "Asia/Shanghai" and info["warnings"] == []
    assert "effective_yaml" not in info
    assert "timezone: Asia/Shanghai" in skylane_json(capsys, service, "config", "--yaml", *address)["effective_yaml"]

    reloaded = skylane_json(capsys, service, "reload", *address)
    assert reloaded == {
        "changed": False,
        "previous_config_version": info["config_version"],
        "config_version": info["config_version"],
        "idempotency_key": reloaded["idempotency_key"],
    }

    verdict = skylane_json(capsys, service, "validate", str(running.suite.config_paths[service]), *address)
    assert verdict["valid"] is True and verdict["errors"] == []
    assert verdict["config_version"] == info["config_version"]  # the running file, unchanged

    probe = skylane_json(capsys, service, "probe", *address)
    assert probe["service"] == service and probe["round_trip_ms"] >= 0


def test_an_invalid_file_is_reported_and_exits_1(
    running: Running, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("timezone: Nowhere/Else\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_code:
        main(["growth", "validate", str(bad), "--address", running.address("growth"), "--json"])
    assert exit_code.value.code == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is False and verdict["config_version"] is None and verdict["errors"]


# --- router: versions, candidates, what-if, reports ------------------------------------------------------


def test_validate_and_what_if_name_the_same_policy_version(
    running: Running, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    address = ("--address", running.address("router"))
    candidate = candidate_file(running, tmp_path, prime=640)
    verdict = skylane_json(capsys, "router", "validate", str(candidate), *address)
    assert verdict["valid"] and verdict["config_version"] and verdict["policy_version"]
    assert verdict["config_version"] != verdict["policy_version"]

    what_if = skylane_json(
        capsys, "router", "what-if", "--candidate", str(candidate), "--since", SINCE, "--until", UNTIL, *address
    )
    assert what_if["candidate_policy_version"] == verdict["policy_version"]
    assert what_if["replayed"] == running.report["routing"]["service_report_total"] > 0
    assert set(what_if["before"]) == {"by_tier", "by_destination"}
    assert what_if["window"]["timezone"] == "Asia/Shanghai"
    assert all(s["tier_before"] != s["tier_after"] or s["destination_before"] != s["destination_after"]
               for s in what_if["samples"])  # fmt: skip

    text = skylane(capsys, "router", "validate", str(candidate), *address)
    assert text.strip() == (
        f"valid: config version {verdict['config_version']}, policy version {verdict['policy_version']}"
    )


def test_versions_candidate_activate_and_rollback(
    running: Running, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    address = ("--address", running.address("router"))
    before = skylane_json(capsys, "router", "versions", *address)
    champion = before["state"]["champion_policy_version"]
    assert before["state"]["candidate_policy_version"] is None and before["state"]["candidate_mode"] is None
    assert before["state"]["config_version"]
    assert all(v["agreement"] is None for v in before["versions"] if v["shadowed"] == 0)

    candidate = candidate_file(running, tmp_path, prime=620)
    state = skylane_json(capsys, "router", "candidate", "shadow", "--file", str(candidate), *address)
    assert state["candidate_mode"] == "shadow" and state["candidate_share"] is None
    version = state["candidate_policy_version"]

    listed = {v["policy_version"]: v for v in skylane_json(capsys, "router", "versions", *address)["versions"]}
    assert listed[version]["role"] == "candidate" and listed[version]["shadowed"] == 0
    assert listed[version]["agreement"] is None  # no shadow decision yet: nothing to agree with
    row = next(
        line
        for line in skylane(capsys, "router", "versions", *address).splitlines()
        if line.strip().startswith(version)
    )
    assert " - " in row and "0.0%" not in row

    for score in (700, 640, 560):
        route(running, score=score)
    shadowed = {v["policy_version"]: v for v in skylane_json(capsys, "router", "versions", *address)["versions"]}
    assert shadowed[version]["shadowed"] == 3 and 0.0 <= shadowed[version]["agreement"] <= 1.0

    rollout = skylane_json(capsys, "router", "candidate", "rollout", "--version", version, "--share", "0.25", *address)
    assert (rollout["candidate_mode"], rollout["candidate_share"]) == ("rollout", 0.25)

    off = skylane_json(capsys, "router", "candidate", "off", *address)
    assert off["candidate_policy_version"] is None and off["candidate_mode"] is None
    text = skylane(capsys, "router", "versions", *address)
    assert text.splitlines()[0].startswith(f"champion policy {champion}  candidate none  (config version ")
    assert "UNSPECIFIED" not in text

    activated = skylane_json(capsys, "router", "activate", version, *address)
    assert activated["champion_policy_version"] == version
    rolled_back = skylane_json(capsys, "router", "activate", "rollback", *address)
    assert rolled_back["champion_policy_version"] == champion
    history = skylane_json(capsys, "router", "versions", "--history", "3", *address)["history"]
    assert [h["action"] for h in history] == ["rollback", "activate", "set_candidate"]
    assert history[0]["champion_policy_version"] == champion


def test_routing_report_and_one_decision(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    address = ("--address", running.address("router"))
    report = skylane_json(capsys, "router", "report", "--since", SINCE, "--until", UNTIL, *address)
    assert report["window"] == {
        "start": "2026-03-08T16:00:00Z",
        "end": "2026-03-09T15:59:59Z",
        "timezone": "Asia/Shanghai",
    }
    assert report["total"] >= running.report["routing"]["service_report_total"]
    assert {c["key"] for c in report["by_destination"]} <= {"IN_HOUSE", "PARTNER_POOL", "DECLINED"}
    assert abs(sum(c["share"] for c in report["by_tier"]) - 1.0) < 1e-6
    assert report["capacity"][0]["product_id"] == "travel_loan"

    decision = route(running, score=560)
    shown = skylane_json(capsys, "router", "decision", decision.decision_id, *address)
    assert shown["decision"]["decision_id"] == decision.decision_id
    assert shown["decision"]["destination"] == "PARTNER_POOL"
    assert shown["decision"]["policy_version"] and shown["decision"]["config_version"]
    assert shown["decision"]["partner"]["lead_id"] == decision.partner.lead_id
    assert isinstance(shown["inputs"], dict)


# --- router: partners and dead letters -------------------------------------------------------------------


def _sim(running: Running, partner_id: str) -> RunningSim:
    return next(s for s in running.suite.sims if s.sim.spec.id == partner_id)


def test_partner_report_trace_and_dead_letters(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    address = ("--address", running.address("router"))
    partners = skylane_json(capsys, "router", "partners", "report", *address)["partners"]
    assert {p["partner_id"] for p in partners} == {"quickcash", "steadybank", "newlender", "fastloan"}
    assert sum(p["accepted_leads"] for p in partners) > 0
    assert set(partners[0]) >= {"pings", "bid_rate", "win_rate", "funded_rate", "revenue_per_lead_fen", "circuit"}
    one = skylane_json(capsys, "router", "partners", "report", "--partner", "newlender", *address)["partners"]
    assert [p["partner_id"] for p in one] == ["newlender"]

    running.on_suite_loop(running.suite.settle())  # leads of earlier tests delivered first
    decision = route(running, score=560)
    lead, partner = decision.partner.lead_id, decision.partner.partner_id
    assert partner, decision
    _sim(running, partner).sim.mode = "error"  # its post fails; one attempt allowed: a dead letter
    try:
        running.on_suite_loop(running.suite.settle())
    finally:
        _sim(running, partner).sim.mode = "none"
    dead = skylane_json(capsys, "router", "dead-letters", "list", *address)["dead_letters"]
    assert [(d["lead_id"], d["partner_id"], d["attempts"]) for d in dead] == [(lead, partner, 1)]
    assert dead[0]["dead_at"].endswith("Z") and dead[0]["last_error"]

    trace = skylane_json(capsys, "router", "partners", "trace", lead, *address)
    assert trace["lead_id"] == lead and trace["deliveries"][0]["status"] == "DEAD"
    assert any(e["status"] == "CHOSEN" and e["partner_id"] == partner for e in trace["entries"])

    replayed = skylane_json(capsys, "router", "dead-letters", "replay", "--all", *address)
    assert replayed["replayed"] == [{"delivery_id": dead[0]["delivery_id"], "status": "PENDING"}]
    running.on_suite_loop(running.suite.settle())
    assert skylane_json(capsys, "router", "dead-letters", "list", *address)["dead_letters"] == []
    assert "no dead letters" in skylane(capsys, "router", "dead-letters", "list", *address)
    after = skylane_json(capsys, "router", "partners", "trace", lead, *address)
    assert after["deliveries"][-1]["status"] in ("DELIVERED", "REJECTED")


# --- growth ----------------------------------------------------------------------------------------------


def _member_with_history(running: Running) -> str:
    options = running.options
    return next(c.ref for c in population(options.seed, options.customers) if c.member and c.tenure_days > 30)


def test_growth_statement_reverse_override_events_and_maintenance(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    address = ("--address", running.address("growth"))
    member = _member_with_history(running)
    statement = skylane_json(capsys, "growth", "statement", "--member", member, *address)
    assert statement["member"] == member and statement["balance"]["points_available"] > 0
    assert statement["level"]["level"] == statement["balance"]["level"]
    assert statement["history"] and statement["lots"]
    earn = next(t for t in statement["history"] if t["kind"] == "earn" and t["points"] > 0)

    reversal = skylane_json(
        capsys, "growth", "reverse", earn["transaction_id"], "--reason", "demo correction", "--operator", "ops-1",
        *address,
    )  # fmt: skip
    assert reversal["reverses"] == earn["transaction_id"] and reversal["points"] == -earn["points"]
    assert reversal["operator"] == "ops-1"

    level = skylane_json(
        capsys, "growth", "override", "--member", member, "--level", "gold", "--until", "2030-01-01",
        "--reason", "VIP service recovery", "--operator", "ops-1", *address,
    )  # fmt: skip
    assert (level["level"], level["override_level"]) == ("gold", "gold")
    assert level["override_until"].startswith("2029-12-31T16:00:00")  # midnight in Shanghai

    events = skylane_json(capsys, "growth", "events", "--limit", "1000", *address)
    for e in events["events"]:
        assert set(e) == {"sequence", "type", "member", "emitted_at", "data"} and e["emitted_at"].endswith("Z")
    assert events["last_sequence"] == (events["events"][-1]["sequence"] if events["events"] else 0)
    later = skylane_json(capsys, "growth", "events", "--after", str(events["last_sequence"]), *address)
    assert later == {"events": [], "last_sequence": events["last_sequence"]}

    done = skylane_json(capsys, "growth", "maintenance", "--idempotency-key", "cli-test-pass", *address)
    assert set(done) == {"lots_expired", "holds_timed_out", "warnings_emitted", "level_changes", "idempotency_key"}
    again = skylane_json(capsys, "growth", "maintenance", "--idempotency-key", "cli-test-pass", *address)
    assert again == done


# --- rewards ---------------------------------------------------------------------------------------------


def test_rewards_report_of_every_campaign_and_of_one(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    address = ("--address", running.address("rewards"))
    campaigns = skylane_json(capsys, "rewards", "report", *address)["campaigns"]
    assert [c["campaign_id"] for c in campaigns] == ["qilu-mall", "qilu-supermarket", "qilu-restaurant", "qilu-travel"]
    offers = sum(c["totals"]["offers"] for c in campaigns)
    assert offers == running.report["coupons"]["offered"] > 0
    for c in campaigns:
        assert set(c["budget"]) == {
            "total_fen",
            "daily_fen",
            "spent_fen",
            "reserved_fen",
            "today_committed_fen",
            "used",
        }
        assert set(c["uplift"]) == {
            "treated", "holdout", "active_rate_ratio", "active_rate_difference", "value_ratio", "value_difference_fen",
        }  # fmt: skip
        assert c["totals"]["redemptions"] == sum(row["redemptions"] for row in c["funnel"])
        interval = c["uplift"]["active_rate_difference"]
        assert interval is None or interval["low"] <= interval["estimate"] <= interval["high"]
    one = skylane_json(capsys, "rewards", "report", "qilu-travel", "--by-segment", *address)["campaigns"]
    assert [c["campaign_id"] for c in one] == ["qilu-travel"] and all("segment" in row for row in one[0]["funnel"])
    text = skylane(capsys, "rewards", "report", "qilu-travel", *address)
    assert "qilu-travel" in text and "payment-active rate" in text


# --- commands without a server -----------------------------------------------------------------------------


def test_db_upgrade_prints_a_json_line_per_service(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = skylane(capsys, "db", "upgrade", "all", "--var-dir", str(tmp_path), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [{"service": s, "schema": "head", "dialect": "sqlite"} for s in ("router", "growth", "rewards")]


def test_validate_text_for_growth_names_the_config_version(
    running: Running, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    copy = tmp_path / "growth.yaml"
    shutil.copy(running.suite.config_paths["growth"], copy)
    text = skylane(capsys, "growth", "validate", str(copy), "--address", running.address("growth"))
    assert text.startswith("valid: config version ") and "policy" not in text


# --- domain events -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["router", "growth", "rewards"])
def test_the_event_stream_as_json_lines(running: Running, capsys: pytest.CaptureFixture[str], service: str) -> None:
    address = ("--address", running.address(service))
    lines = [
        json.loads(line) for line in skylane(capsys, service, "stream", "--limit", "5", "--json", *address).splitlines()
    ]
    assert 0 < len(lines) <= 5
    assert all(e["service"] == service and e["cursor"].startswith(f"{service}:") for e in lines)
    assert set(lines[0]) == {"event_id", "service", "type", "customer", "occurred_at", "data", "cursor"}
    rest = skylane(capsys, service, "stream", "--cursor", lines[0]["cursor"], "--limit", "1", "--json", *address)
    assert json.loads(rest)["event_id"] != lines[0]["event_id"]
    kind = lines[0]["type"]
    same = skylane(capsys, service, "stream", "--type", kind, "--limit", "3", "--json", *address).splitlines()
    assert {json.loads(line)["type"] for line in same} == {kind}
    text = skylane(capsys, service, "stream", "--limit", "2", *address).splitlines()
    assert text[-1].startswith("2 events; resume with --cursor ")
