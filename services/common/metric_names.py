"""Every Prometheus metric the services export: name, type, labels and help, in one place.

The collectors are built from this list (services/common/metrics.py and each service's metrics), and
tests/test_deploy.py checks that every metric the alert rules (deploy/prometheus/rules.yml) and the
Grafana dashboard (deploy/grafana/skylane.json) query is listed here. A histogram is listed once, by its
base name; Prometheus exposes it as `<name>_bucket`, `<name>_sum` and `<name>_count`. A counter's name
ends in `_total`, as exposed.

Money is in fen (1/100 yuan), as everywhere in Skylane; durations are in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MetricType = Literal["counter", "gauge", "histogram"]

# Call latency: the edge's histogram (services/common/metrics.py uses the same).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Partner pings: bounded by a lender's ping_timeout_ms (500 by default) and the ping budget (750 ms).
PING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0)


@dataclass(frozen=True)
class MetricName:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    service: str  # which service exports it ("all": every service)
    buckets: tuple[float, ...] = ()  # histograms only

    def series(self) -> tuple[str, ...]:
        """The names it appears under in a scrape (and in PromQL)."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)

    def collector(self, registry: Any) -> Any:
        """The prometheus_client collector for this metric, registered in registry."""
        from prometheus_client import Counter, Gauge, Histogram

        if self.type == "counter":
            return Counter(self.name, self.help, self.labels, registry=registry)
        if self.type == "gauge":
            return Gauge(self.name, self.help, self.labels, registry=registry)
        return Histogram(self.name, self.help, self.labels, buckets=self.buckets, registry=registry)


METRICS: tuple[MetricName, ...] = (
    # --- every service: the edge (services/common/edge.py) ---
    MetricName(
        "skylane_grpc_requests_total",
        "counter",
        ("service", "method", "code"),
        "gRPC calls handled, by method and status code",
        "all",
    ),
    MetricName(
        "skylane_grpc_request_duration_seconds",
        "histogram",
        ("service", "method"),
        "gRPC call latency in seconds, by method",
        "all",
        LATENCY_BUCKETS,
    ),
    MetricName("skylane_grpc_in_flight", "gauge", ("service",), "gRPC calls being handled", "all"),
    # --- router: partner lenders ---
    MetricName(
        "skylane_router_lead_deliveries_total",
        "counter",
        ("partner", "outcome"),
        "lead delivery attempts to partner lenders, by outcome (e.g. delivered, rejected, failed, dead_lettered)",
        "router",
    ),
    MetricName(
        "skylane_router_dead_letters",
        "gauge",
        ("partner",),
        "leads whose delivery gave up and wait for a replay, by partner",
        "router",
    ),
    MetricName(
        "skylane_router_partner_circuit_open",
        "gauge",
        ("partner",),
        "1 while a partner's circuit breaker is open (calls to it are not made), else 0",
        "router",
    ),
    MetricName(
        "skylane_router_partner_ping_seconds",
        "histogram",
        ("partner",),
        "latency of bid requests (pings) to partner lenders in seconds",
        "router",
        PING_BUCKETS,
    ),
    # --- rewards: budgets, pacing and offers ---
    MetricName(
        "skylane_rewards_budget_reserved_fen",
        "gauge",
        ("campaign",),
        "budget reserved by offers made and not yet settled, in fen",
        "rewards",
    ),
    MetricName(
        "skylane_rewards_budget_spent_fen",
        "gauge",
        ("campaign",),
        "budget spent on redeemed rewards, in fen",
        "rewards",
    ),
    MetricName(
        "skylane_rewards_budget_total_fen", "gauge", ("campaign",), "a campaign's total budget, in fen", "rewards"
    ),
    MetricName(
        "skylane_rewards_pacing_price",
        "gauge",
        ("campaign",),
        "the pacing price λ (shadow price of budget) a campaign's allocation uses now",
        "rewards",
    ),
    MetricName(
        "skylane_rewards_offers_total",
        "counter",
        ("campaign", "outcome"),
        "offer decisions, by outcome (e.g. offered, no_reward, budget_exhausted, capped)",
        "rewards",
    ),
    # --- growth: points, rights and redemptions ---
    MetricName(
        "skylane_growth_points_total",
        "counter",
        ("kind",),
        "points moved, by kind: issued, spent, expired",
        "growth",
    ),
    MetricName(
        "skylane_growth_points_liability",
        "gauge",
        (),
        "points issued and neither spent nor expired: what the programme owes its members",
        "growth",
    ),
    MetricName(
        "skylane_growth_redemptions_total", "counter", ("right",), "rights redeemed with points, by right", "growth"
    ),
    MetricName("skylane_growth_right_stock", "gauge", ("right",), "units of a right left in stock", "growth"),
)

BY_NAME: dict[str, MetricName] = {m.name: m for m in METRICS}

# Every name a PromQL query may use for a listed metric (histograms by their three series).
SERIES: dict[str, MetricName] = {series: m for m in METRICS for series in m.series()}
