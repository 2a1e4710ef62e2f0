from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.growth.app import build
from tests.growth.helpers import Client, config
from tests.helpers import DbTarget, running_service


@pytest.fixture
async def growth(db_target: DbTarget, tmp_path: Path) -> AsyncIterator[Client]:
    path = tmp_path / "growth.yaml"
    path.write_text(config(), encoding="utf-8")
    async with running_service(build, db_target, path) as h:
        yield Client(h)
