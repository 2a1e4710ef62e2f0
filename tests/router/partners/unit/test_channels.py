"""Partner channels: the per-partner reconnect settings become gRPC channel options; bad ones are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.router.partners.channels import channel_options
from services.router.partners.config import Partner, Reconnect


def test_reconnect_settings_become_the_partner_channel_options() -> None:
    partner = Partner(id="p1", endpoint="127.0.0.1:1", tiers=["tail"], annual_cost_rate=0.1)
    assert dict(channel_options(partner.reconnect)) == {
        "grpc.enable_retries": 0,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 500,
        "grpc.min_reconnect_backoff_ms": 2000,
    }
    with pytest.raises(ValidationError, match="initial_backoff_ms is above max_backoff_ms"):
        Reconnect(initial_backoff_ms=1000, max_backoff_ms=500)
