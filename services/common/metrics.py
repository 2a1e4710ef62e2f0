"""Prometheus metrics: one registry and one scrape endpoint per service.

Every collector is built from services/common/metric_names.py: the edge's call metrics for every service,
and the domain metrics listed for this service (`collector(name)` hands one to the code that updates it).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, start_http_server

from services.common.metric_names import METRICS
from services.common.ports import METRICS_HINT, PortInUse


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        # Every metric listed for this service (and for all), registered in its registry.
        self.collectors: dict[str, Any] = {
            m.name: m.collector(self.registry) for m in METRICS if m.service in ("all", service)
        }
        self.requests = self.collectors["skylane_grpc_requests_total"]
        self.latency = self.collectors["skylane_grpc_request_duration_seconds"]
        self.in_flight = self.collectors["skylane_grpc_in_flight"]
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def collector(self, name: str) -> Any:
        """The collector of a metric listed for this service in metric_names.py (KeyError otherwise)."""
        return self.collectors[name]

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def serve(self, host: str, port: int) -> int:
        """Starts the scrape endpoint in a daemon thread; returns the bound port.

        Raises PortInUse (one line, no traceback at the top) when another process holds the port."""
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse("metrics", host, port, METRICS_HINT) from None
            raise
        return int(self._server.server_port)

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class GaugeSnapshot:
    """A gauge with one label, set from a full reading (e.g. a periodic pass over the database): every
    value read is set, and a label value the reading no longer holds (a partner, campaign or right removed
    from the config) is dropped rather than left at its last value."""

    def __init__(self, gauge: Any) -> None:
        self.gauge = gauge
        self._labels: set[str] = set()

    def replace(self, values: Mapping[str, float]) -> None:
        for label, value in values.items():
            self.gauge.labels(label).set(value)
        for stale in self._labels - values.keys():
            self.gauge.remove(stale)
        self._labels = set(values)
