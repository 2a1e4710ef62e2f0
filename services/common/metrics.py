"""Prometheus metrics: one registry and one scrape endpoint per service."""

from __future__ import annotations

import errno
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from services.common.ports import METRICS_HINT, PortInUse

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "skylane_grpc_requests_total",
            "gRPC calls handled, by method and status code",
            ["service", "method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "skylane_grpc_request_duration_seconds",
            "gRPC call latency in seconds, by method",
            ["service", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "skylane_grpc_in_flight", "gRPC calls being handled", ["service"], registry=self.registry
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None

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
