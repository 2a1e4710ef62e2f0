"""Tables of the router database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase

from services.common.db import UTCDateTime
from services.common.idempotency import idempotency_table


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


idempotency_keys = idempotency_table(Base.metadata)
