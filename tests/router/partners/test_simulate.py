"""`skylane router simulate`: the learned policy against the waterfall, highest bid and the oracle."""

from __future__ import annotations

from pathlib import Path

from services.router.partners.scenario import load_scenario
from services.router.partners.simulate import simulate

SCENARIO = Path(__file__).resolve().parents[3] / "config" / "scenarios" / "partners.yaml"


def test_learned_policy_is_near_the_oracle_and_beats_the_waterfall() -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.registry is not None
    learned, waterfall, highest, oracle = simulate(scenario, scenario.registry, applicants=1500, seed=11)
    assert learned.value_per_lead >= 0.95 * oracle.value_per_lead
    assert learned.value_per_lead > waterfall.value_per_lead
    assert learned.value_per_lead > highest.value_per_lead
    assert oracle.leads == learned.leads == 1500


def test_simulation_is_reproducible_for_a_seed_and_never_uses_over_ceiling_partners() -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.registry is not None
    first = simulate(scenario, scenario.registry, applicants=300, seed=5)
    second = simulate(scenario, scenario.registry, applicants=300, seed=5)
    assert [(r.value_fen, r.sold) for r in first] == [(r.value_fen, r.sold) for r in second]
    # fastloan bids 90 yuan and funds 90% but is over the 24% ceiling: the oracle would love it if allowed
    allowed = scenario.registry.model_copy(update={"cost_ceiling_rate": 0.40})
    with_fastloan = simulate(scenario, allowed, applicants=300, seed=5)
    assert with_fastloan[3].value_per_lead > first[3].value_per_lead


def test_router_simulate_command_prints_the_policy_table(capsys: object) -> None:
    from services.cli import main

    assert main(["router", "simulate", "--scenario", str(SCENARIO), "--applicants", "400", "--no-progress"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    for row in ("configured (thompson)", "static waterfall", "highest bid wins", "oracle (true rates)"):
        assert row in out
    assert "below the oracle" in out


def test_router_simulate_refuses_a_bad_scenario(tmp_path: Path, capsys: object) -> None:
    from services.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("partners: []\n", encoding="utf-8")
    assert main(["router", "simulate", "--scenario", str(bad), "--no-progress"]) == 2
    assert "partners" in capsys.readouterr().err  # type: ignore[attr-defined]
