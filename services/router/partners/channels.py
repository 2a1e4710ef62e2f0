"""One long-lived gRPC channel per partner, shared by pings and posts, with a short re-dial backoff.

A channel that loses its partner fails every call at once (UNAVAILABLE) until its next dial succeeds;
when that dial happens is gRPC's connection backoff, set per partner by `reconnect:` (see Reconnect in
config.py). gRPC's own backoff grows to minutes, so after a long outage the partner could be back well
before the channel looks again; ours keeps the next dial at most `max_backoff_ms` (+20% jitter) away.
"""

from __future__ import annotations

import grpc
import structlog

from services.common.tls import TlsError, channel_credentials
from services.router.partners.config import Partner, PartnerTls, Reconnect
from skylane.partner.v1 import partner_pb2_grpc

log = structlog.get_logger("skylane.router.partners")

ChannelOption = tuple[str, int]


def channel_options(reconnect: Reconnect) -> list[ChannelOption]:
    """gRPC channel arguments for one partner."""
    return [
        # Retries are the dispatcher's job (backoff, breaker, dead letters); gRPC must not add its own.
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", reconnect.initial_backoff_ms),
        ("grpc.max_reconnect_backoff_ms", reconnect.max_backoff_ms),
        # Despite its name, gRPC uses this as the minimum time a single connection attempt is given.
        ("grpc.min_reconnect_backoff_ms", reconnect.connect_timeout_ms),
    ]


class PartnerChannels:
    """One long-lived channel per partner endpoint, TLS and reconnect settings, reused by pings and posts."""

    def __init__(self) -> None:
        # Keyed by the TLS and reconnect settings too, so a reload that changes them gets a new channel
        # instead of reusing the old one; the old channel is only closed at close().
        self._channels: dict[tuple[str, PartnerTls | None, Reconnect], grpc.aio.Channel] = {}

    def stub(self, partner: Partner) -> partner_pb2_grpc.PartnerServiceStub:
        return partner_pb2_grpc.PartnerServiceStub(self._channel(partner))

    def _channel(self, partner: Partner) -> grpc.aio.Channel:
        key = (partner.endpoint, partner.tls, partner.reconnect)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._open(partner)
            self._channels[key] = channel
        return channel

    def ready(self, partner: Partner) -> bool:
        """True when the partner's channel holds a live connection; otherwise asks it to dial (an idle
        channel only dials when asked), so the answer can turn true without any call being made."""
        try:
            channel = self._channel(partner)
        except grpc.aio.AioRpcError:  # TLS files unusable: as unreachable as a partner that is down
            return False
        return channel.get_state(try_to_connect=True) == grpc.ChannelConnectivity.READY

    @staticmethod
    def _open(partner: Partner) -> grpc.aio.Channel:
        options = channel_options(partner.reconnect)
        if partner.tls is None:
            return grpc.aio.insecure_channel(partner.endpoint, options=options)
        try:
            credentials = channel_credentials(partner.tls.files())
        except TlsError as exc:
            # The files were readable when the config loaded; one that vanished since (a botched cert
            # rotation) fails this call like an unreachable partner — never plaintext — so pings count
            # it as ERROR and posts retry with backoff behind the breaker, instead of an exception
            # escaping the callers. Nothing is cached, so the next call tries the files again.
            log.error("partner_tls_files_unusable", partner=partner.id, error=str(exc))
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, details=f"TLS files unusable: {exc}") from exc
        return grpc.aio.secure_channel(partner.endpoint, credentials, options=options)

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()
