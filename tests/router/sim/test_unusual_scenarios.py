"""Valid but unusual router scenarios, found by running random ones through `skylane router simulate`."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.router.partners.config import CAP_WINDOWS
from services.router.partners.domain import cap_window_keys
from services.router.partners.selection import ChainLimits
from services.router.sim.bound import Bound
from services.router.sim.engine import CapBook, RunResult, chain_limits
from services.router.sim.market import Market, caps_past_run, idle_parts, run_hours
from services.router.sim.runner import LEARNED, SeedResult, summary
from services.router.sim.scenario import Scenario

LENDER = {"id": "alpha", "endpoint": "127.0.0.1:51001", "tiers": ["near_prime"], "annual_cost_rate": 0.1}


def _scenario(**over: Any) -> Scenario:
    document: dict[str, Any] = {
        "applicants": 50,
        "days": 0.1,  # 09:00-11:24 in Asia/Shanghai
        "start": "2026-01-05T09:00:00+08:00",
        "tiers": {"near_prime": 1},
        "partners": [{"id": "alpha", "bid_fen": 3000}],
        "registry": {"lenders": [{**LENDER, "allow_listed": True}]},
    }
    document.update(over)
    return Scenario.model_validate(document)


def _night_only() -> list[float]:
    return [5.0 if hour < 6 else 0.0 for hour in range(24)]


def test_a_profile_that_weighs_none_of_the_runs_hours_is_refused_instead_of_drawing_forever() -> None:
    sc = _scenario(hourly_profile=_night_only())
    assert sc.registry is not None
    with pytest.raises(ValueError, match=r"weighs none of the hours the run covers \(09h, 10h, 11h in Asia/Shanghai\)"):
        Market(sc, sc.registry, 1)


def test_a_short_run_in_the_profiles_quiet_hours_draws_its_applicants_there() -> None:
    profile = _night_only()
    profile[10] = 0.01  # the run's only weighted hour is a hundredth of the night's
    sc = _scenario(hourly_profile=profile)
    assert sc.registry is not None
    market = Market(sc, sc.registry, 1)
    hours = {market.time(lead.at).astimezone(ZoneInfo("Asia/Shanghai")).hour for lead in market.leads}
    assert len(market.leads) == 50 and hours == {10}


@pytest.mark.parametrize(
    "start", ["2026-01-05T09:00:00+08:00", "2026-01-05T09:50:00+08:00", "2026-03-08T01:30:00-05:00"]
)
def test_run_hours_are_the_local_hours_a_run_touches(start: str) -> None:
    rng = random.Random(start)
    for _ in range(50):
        days = rng.uniform(0.001, 1.2)
        sc = _scenario(start=start, days=days)
        zone = ZoneInfo("America/New_York")
        # every local hour some minute of the run falls in (New York's clock skips 02h on 2026-03-08)
        seen = {(sc.start + timedelta(seconds=s)).astimezone(zone).hour for s in range(0, int(days * 86_400), 60)}
        assert seen <= run_hours(sc, zone)


def test_the_cli_refuses_the_scenario_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    document = _scenario(hourly_profile=_night_only()).model_dump(mode="json", exclude_defaults=True)
    path = tmp_path / "night.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert main(["router", "simulate", "--scenario", str(path), "--no-svg", "--no-progress"]) == 2
    assert "no applicant could arrive" in capsys.readouterr().err


def test_the_registrys_chain_limits_bind_the_simulated_router_as_they_bind_the_real_one() -> None:
    # A registry with max_posts_per_lead, post_cost_fen and a lender's accept_window_seconds: production's
    # desk plans and delivers under them (ChainLimits.of); the simulator used to read only the scenario's
    # `chain:` and partners' accept_window_s, and ran (and bounded) an unlimited chain.
    lenders = [{**LENDER, "allow_listed": True, "accept_window_seconds": 90}]
    registry = {"lenders": lenders, "max_posts_per_lead": 1, "post_cost_fen": 40, "offer_window_seconds": 600}
    sc = _scenario(registry=registry)
    assert sc.registry is not None
    limits = chain_limits(Market(sc, sc.registry, 1))
    assert limits == ChainLimits(1, 600_000.0, 40.0, {"alpha": 90_000.0})
    # the scenario's own chain and partner terms still set theirs
    own = _scenario(
        registry=registry,
        chain={"max_posts": 3, "post_cost_fen": 0, "time_budget_s": 60},
        partners=[{"id": "alpha", "bid_fen": 3000, "accept_window_s": 5}],
    )
    assert own.registry is not None
    assert chain_limits(Market(own, own.registry, 1)) == ChainLimits(3, 60_000.0, 0.0, {"alpha": 5_000.0})


def test_where_nothing_can_be_sold_a_policy_that_sold_nothing_has_all_of_the_bound() -> None:
    # every partner's bid below the tier minimum, or never bidding: bound 0 and every policy 0
    nothing = SeedResult(1, 10, Bound(0.0, [0.0] * 10), {LEARNED: RunResult(LEARNED, leads=10)})
    assert summary([nothing]).rows[LEARNED]["of_bound"].mean == 1.0
    costly = SeedResult(1, 10, Bound(0.0, [0.0] * 10), {LEARNED: RunResult(LEARNED, leads=10, expected_fen=-50.0)})
    assert summary([costly]).rows[LEARNED]["of_bound"].mean == 0.0


def _capped(caps: dict[str, int], start: str, days: float) -> Scenario:
    lender = {**LENDER, "allow_listed": True, "caps": caps}
    return _scenario(start=start, days=days, registry={"lenders": [lender], "caps_timezone": "Asia/Shanghai"})


@pytest.mark.parametrize(
    "caps",
    [
        {"hour": 6, "month": 300},  # 6 an hour would allow 1,152 within the run
        # 20 a day cannot reach 300 within the run, but can within January: the router paces the month's 300
        # over its 26 days left (about 11 a day), where the bound takes 20 a day
        {"day": 20, "month": 300},
    ],
)
def test_a_cap_window_reaching_far_past_the_run_is_flagged_where_it_could_bind(caps: dict[str, int]) -> None:
    # 8 days from 5 January: January's window runs 18.6 days on
    scenario = _capped(caps, "2026-01-05T09:00:00+08:00", 8)
    assert scenario.registry is not None
    notes = caps_past_run(scenario, scenario.registry)
    assert len(notes) == 1 and "month cap of 300" in notes[0] and "18.6 days" in notes[0]


@pytest.mark.parametrize(
    ("caps", "start", "days"),
    [
        ({"hour": 6, "month": 300}, "2026-01-24T00:00:00+08:00", 8),  # the month ends with the run
        ({"day": 5, "month": 300}, "2026-01-05T09:00:00+08:00", 8),  # 5 a day cannot reach 300 in January
        ({"day": 60}, "2026-01-05T09:00:00+08:00", 8),  # the last day runs 15 hours on: under a tenth of the run
    ],
)
def test_a_cap_window_that_ends_with_the_run_or_cannot_bind_in_it_is_not_flagged(
    caps: dict[str, int], start: str, days: float
) -> None:
    scenario = _capped(caps, start, days)
    assert scenario.registry is not None
    assert caps_past_run(scenario, scenario.registry) == []


def test_a_change_after_the_run_and_a_tier_nobody_serves_are_noted() -> None:
    scenario = _scenario(
        tiers={"near_prime": 1, "tail": 1},
        schedule=[
            {"partner": "alpha", "at_day": 0.05, "accept_rate": 0.5},
            {"partner": "alpha", "at_day": 3, "accept_rate": 0.1},
        ],
    )
    assert scenario.registry is not None
    notes = idle_parts(scenario, scenario.registry)
    assert len(notes) == 2
    assert "schedule change 1 of alpha starts on day 3" in notes[0]
    assert "tier tail" in notes[1]


def test_a_scenario_whose_every_part_can_act_has_no_idle_part() -> None:
    scenario = _scenario(tiers={"near_prime": 1, "tail": 0}, schedule=[{"partner": "alpha", "at_day": 0.05}])
    assert scenario.registry is not None
    assert idle_parts(scenario, scenario.registry) == []


@pytest.mark.parametrize(
    ("start", "cached"), [("1900-01-01T00:00:00+08:00", False), ("2026-01-05T09:00:00+08:00", True)]
)
def test_cap_windows_are_the_desks_at_every_lead_even_where_the_zone_is_off_the_quarter_hour(
    start: str, cached: bool
) -> None:
    # Shanghai kept its local mean time (+08:05:43) until 1901: its hours do not start on a quarter hour of
    # UTC, so window keys cached per quarter hour took two leads into one hour's cap of 1.
    lender = {**LENDER, "allow_listed": True, "caps": {"hour": 1, "day": 3}}
    sc = _scenario(start=start, days=3, applicants=400, registry={"lenders": [lender]})
    assert sc.registry is not None
    market = Market(sc, sc.registry, 1)
    book = CapBook(sc.registry, market)
    assert (book._bucket_s > 0) is cached
    for lead in market.leads:
        names = cap_window_keys(market.time(lead.at), sc.registry.caps_timezone, CAP_WINDOWS)
        assert book.keys("alpha", lead.at) == [
            (f"{kind}:{names[kind]}", cap) for kind, cap in (("hour", 1), ("day", 3))
        ]
