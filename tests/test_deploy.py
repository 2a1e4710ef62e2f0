"""compose.yaml is checked by parsing it (no Docker engine on these machines)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from services.cli import build_parser
from services.registry import SERVICES

REPO = Path(__file__).resolve().parents[1]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_every_service_runs_on_postgres_with_a_valid_command() -> None:
    compose = _compose()["services"]
    init_sql = (REPO / "deploy" / "postgres-init.sql").read_text()
    parser = build_parser()
    for name, entry in SERVICES.items():
        service = compose[name]
        args = parser.parse_args(service["command"])
        assert (args.command, args.service) == ("serve", name)
        assert args.port == entry.default_port and args.host == "0.0.0.0"
        url = service["environment"][f"SKYLANE_{name.upper()}_DB_URL"]
        assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url
        database = url.rsplit("/", 1)[1]
        assert re.search(rf"CREATE DATABASE {database};", init_sql)
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert str(entry.default_port) in service["healthcheck"]["test"][-1]
        assert service["stop_signal"] == "SIGTERM"


def test_image_builds_from_the_repository() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for path in ("services", "skylane", "config", "pyproject.toml"):
        assert path in dockerfile and (REPO / path).exists()
    assert _compose()["services"]["router"]["build"] == "."
