"""`skylane demo`: a day of the whole product runs to its report, with coupons offered, claimed and redeemed
and the uplift measured; the HTML report is self-contained and its charts are there (checked by parsing
always, and in headless Chromium where Debian's `chromium` is installed); the same seed gives the same day
on any date."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from services.common.logging import configure_logging
from services.demo.service.run import DemoOptions, run_demo
from tests.helpers import REPO

CHARTS = {
    "routing-mix", "value-per-lead", "partner-outcomes", "uplift", "coupon-spend", "levels", "activities",
    "funnel-coupons", "funnel-loans", "funnel-members",
}  # fmt: skip
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """`skylane demo --seed 1 --fast` as a user runs it, with --json and the HTML report in a temp folder, from a
    directory outside the checkout (the demo finds the config shipped beside the package)."""
    html = tmp_path_factory.mktemp("demo") / "report.html"
    elsewhere = tmp_path_factory.mktemp("cwd")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLANE_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--seed", "1", "--fast", "--json", "--html", str(html)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not (elsewhere / "config").exists()
    assert f"HTML report: {html}" in done.stderr
    return json.loads(done.stdout), html


def test_the_day_runs_to_its_report(demo: tuple[dict[str, Any], Path]) -> None:
    report, _ = demo
    assert report["checks"] == {"unexpected_errors": {}, "dead_letters": 0}
    h = report["headline"]
    assert h["applicants"] == 40 and h["leads_sold"] > 0 and h["value_per_lead_fen"] > 0
    assert 0 < h["coupons_redeemed"] < h["coupons_claimed"] < h["coupons_offered"]
    assert h["coupon_spend_fen"] > 0 and h["points_issued"] > 0

    coupons = report["coupons"]
    assert set(coupons["moments_by_scene"]) == {"mall", "supermarket", "restaurant", "travel"}
    assert coupons["decisions"]["HOLDOUT"] > 0
    uplift = coupons["uplift"]
    assert uplift["treated"]["customers"] > uplift["holdout"]["customers"] > 0
    ratio = uplift["active_rate_ratio"]
    assert ratio is not None and ratio["low"] < ratio["estimate"] < ratio["high"]  # with its confidence interval
    assert h["uplift_active_rate_ratio"] == ratio
    assert sum(c["redemptions"] for c in coupons["campaigns"]) == coupons["redeemed"]

    routing = report["routing"]
    assert {c["channel"] for c in routing["by_channel"]} == {
        "ceair_app",
        "ctrip_app",
        "bank_app",
        "sms_landing",
        "wechat_mini",
    }
    assert sum(routing["by_destination"].values()) == routing["applicants"] - routing["sticky_repeats"]
    assert routing["service_report_total"] == sum(routing["by_destination"].values())
    partners = {p["partner_id"]: p for p in report["partners"]["lenders"]}
    assert partners["fastloan"]["pings"] == 0  # above the cost ceiling: never called
    assert sum(p["accepted_leads"] for p in partners.values()) == routing["leads_sold"]
    assert report["partners"]["postbacks"] == sum(sum(p["outcomes"].values()) for p in partners.values())

    growth = report["growth"]
    assert growth["members"] > 0 and growth["activities"]["sign_in"] > 0 and growth["rights_redeemed"]
    assert [f["stage"] for f in report["funnels"]["coupons"]][-1] == "paid with the coupon"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.charts: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "svg" and values.get("class") == "chart":
            self.charts.append(str(values.get("id")))
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_the_html_report_is_self_contained_with_its_charts(demo: tuple[dict[str, Any], Path]) -> None:
    _, html = demo
    text = html.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert {f"chart-{c}" for c in CHARTS} <= set(page.charts)
    assert not {"script", "link", "img", "iframe"} & set(page.tags) and page.urls == []  # nothing fetched
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for svg in text.split("<svg")[1:]:
        chart = ET.fromstring("<svg" + svg.split("</svg>", 1)[0] + "</svg>")  # each chart is well-formed SVG
        shapes = [e for e in chart.iter() if e.tag.rsplit("}", 1)[-1] in ("rect", "circle", "line")]
        assert shapes and chart.find("{http://www.w3.org/2000/svg}title") is not None


def test_the_html_report_opens_in_headless_chromium(demo: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install -y chromium); the charts were checked by parsing")
    _, html = demo
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-extensions"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    page = _Page()
    page.feed(dom)
    assert {f"chart-{c}" for c in CHARTS} <= set(page.charts)
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1100,3000", f"--screenshot={shot}", html.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _run(folder: Path, day: date) -> dict[str, Any]:
    options = DemoOptions(
        seed=7, day=day, customers=50, applicants=12, config_dir=REPO / "config", var_dir=folder,
        partner_scenario=REPO / "config" / "scenarios" / "partners.yaml",
    )  # fmt: skip
    report = asyncio.run(run_demo(options))
    report.pop("run")
    for lender in report["partners"]["lenders"]:
        lender.pop("p50_latency_ms")  # measured on the wall clock
    return report


def test_the_same_seed_gives_the_same_day_on_any_date(tmp_path: Path) -> None:
    """A day before the shipped campaigns start, twice: the same report, and coupons are offered."""
    with (tmp_path / "services.log").open("w", encoding="utf-8") as log:
        configure_logging("warning", stream=log, cache=False)
        try:
            first = _run(tmp_path / "a", date(2025, 6, 15))
            second = _run(tmp_path / "b", date(2025, 6, 15))
        finally:
            configure_logging("warning", cache=False)
    assert first == second
    assert first["demo"]["date"] == "2025-06-15" and first["coupons"]["offered"] > 0
    assert first["checks"]["unexpected_errors"] == {}
