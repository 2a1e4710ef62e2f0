"""How ops commands call a running service: one blocking call over a plaintext channel, errors printed."""

from __future__ import annotations

import sys
from collections.abc import Callable

import grpc


def run_call(address: str, call: Callable[[grpc.Channel], None]) -> int:
    """Runs call on a channel to address; prints a gRPC error as 'error: CODE: details' and returns 1."""
    with grpc.insecure_channel(address) as channel:
        try:
            call(channel)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    return 0
