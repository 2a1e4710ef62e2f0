"""How ops commands call a running service: one blocking call, errors printed.

The channel is plaintext unless SKYLANE_TLS_CA names the CA the server's certificate chains to; with
SKYLANE_TLS_CLIENT_CERT and SKYLANE_TLS_CLIENT_KEY it also presents a client certificate (for servers
started with --tls-client-ca). Environment rather than flags: every ops command takes the same three.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import grpc

from services.common.tls import TlsError, TlsFiles, channel_credentials


def client_tls(environ: Mapping[str, str]) -> TlsFiles | None:
    ca, cert, key = (environ.get(f"SKYLANE_TLS_{name}") for name in ("CA", "CLIENT_CERT", "CLIENT_KEY"))
    return TlsFiles.of(cert, key, ca) if ca or cert or key else None


def open_channel(address: str, tls: TlsFiles | None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, channel_credentials(tls))


def run_call(address: str, call: Callable[[grpc.Channel], None]) -> int:
    """Runs call on a channel to address; prints a gRPC error as 'error: CODE: details' and returns 1."""
    try:
        channel = open_channel(address, client_tls(os.environ))
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with channel:
        try:
            call(channel)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    return 0
