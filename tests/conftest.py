from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.common.logging import configure_logging
from tests.helpers import ENGINES, DbTarget, db_target_for

# Loggers cached on first use keep their configuration for good; the suite reconfigures logging to
# capture it, also after in-process CLI runs, so nothing in this process caches them.
os.environ["SKYLANE_LOG_CACHE"] = "0"
configure_logging("warning", cache=False)  # tests reconfigure it (log capture)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Every test that uses a database runs once per engine: SQLite always, PostgreSQL when configured."""
    return str(request.param)


@pytest.fixture
async def db_target(engine: str, tmp_path: Path) -> AsyncIterator[DbTarget]:
    async with db_target_for(engine, tmp_path, "service") as target:
        yield target
