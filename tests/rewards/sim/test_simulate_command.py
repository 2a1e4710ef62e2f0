"""`skylane rewards simulate --seeds N --json --svg` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

SCENARIO = Path(__file__).resolve().parents[3] / "services" / "rewards" / "scenarios" / "example.yaml"


def _small(tmp_path: Path) -> Path:
    sc = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    sc.update(days=4, arrivals_per_day=300)
    sc["budget"] = {"total_fen": 40000, "daily_fen": 15000}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(sc), encoding="utf-8")
    return path


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "services.cli", "rewards", "simulate", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def test_json_reports_every_measure_over_the_seeds_and_the_svg_is_written(tmp_path: Path) -> None:
    chart = tmp_path / "curve.svg"
    got = _simulate("--scenario", str(_small(tmp_path)), "--seeds", "2", "--json", "--svg", str(chart))
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["seeds"] == [20260105, 20260106]
    measures = doc["measures"]
    assert measures["overspend ¥"]["max"] == 0 and measures["days over the daily cap"]["max"] == 0
    assert 0 < measures["learned / oracle"]["mean"] <= 1.02
    assert len(doc["per_seed"]) == 2 and len(doc["curves_value_per_yuan"]["learned"]) == 4
    text = chart.read_text(encoding="utf-8")
    assert text.startswith("<svg") and "learned" in text and "best_single" in text


def test_the_table_names_the_yardsticks(tmp_path: Path) -> None:
    got = _simulate("--scenario", str(_small(tmp_path)), "--seeds", "1")
    assert got.returncode == 0, got.stderr
    for phrase in ("learned / oracle", "learned / best single amount", "overspend", "days over the daily cap"):
        assert phrase in got.stdout


def test_a_broken_scenario_is_refused_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    sc = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    sc["drift"] = [{"day": 2, "segment": "nobody"}]
    bad.write_text(yaml.safe_dump(sc), encoding="utf-8")
    got = _simulate("--scenario", str(bad))
    assert got.returncode == 2 and "nobody" in got.stderr


def test_no_seeds_is_refused_by_the_command_line(tmp_path: Path) -> None:
    got = _simulate("--scenario", str(_small(tmp_path)), "--seeds", "0")
    assert got.returncode == 2 and "--seeds: must be at least 1, got 0" in got.stderr


def test_a_yaml_boolean_for_a_number_is_refused_with_the_fields_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.read_text(encoding="utf-8").replace("daily_fen: 180000", "daily_fen: true"), "utf-8")
    got = _simulate("--scenario", str(bad))
    assert got.returncode == 2
    assert got.stderr == f"invalid scenario {bad}:\n  budget.daily_fen: expected a number, got true\n"
