"""Listening ports: a port that is taken stops start-up with one clear line, never a shared port.

grpc on Linux sets SO_REUSEPORT on its listeners by default, so a second server started on a port that
is already in use does not fail: it silently shares the port and the kernel splits new connections
between the two processes (a test run answered by a demo, a stale server answering half the calls).
Servers therefore turn the option off unless replicas share a port on purpose (`--reuse-port`), and
probe the port first, so the refusal is our one line rather than grpc's C-core log and a RuntimeError.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import grpc

# What a refusal suggests doing about it, per kind of port.
GRPC_HINT = "stop the other server, choose another --port (SKYLANE_<SERVICE>_PORT) or share it on purpose: --reuse-port"
METRICS_HINT = "choose another --metrics-port (SKYLANE_<SERVICE>_METRICS_PORT; 0 = any free port) or pass --no-metrics"


class PortInUse(OSError):
    """Something already listens on a port this process was told to listen on."""

    def __init__(self, what: str, host: str, port: int, hint: str = "") -> None:
        self.what, self.host, self.port = what, host, port
        detail = f"{what} port {port} on {host} is already in use"
        super().__init__(errno.EADDRINUSE, f"{detail} ({hint})" if hint else detail)

    def __str__(self) -> str:
        return str(self.strerror)


def port_options(reuse_port: bool) -> list[tuple[str, Any]]:
    """grpc server options for the listening socket: SO_REUSEPORT only when sharing is intended."""
    return [("grpc.so_reuseport", 1 if reuse_port else 0)]


def address(host: str, port: int) -> str:
    """host:port as grpc wants it (IPv6 literals in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def check_free(host: str, port: int, what: str, hint: str = "") -> None:
    """Raises PortInUse when host:port cannot be bound now; port 0 (any free port) always can.

    The probe sets SO_REUSEADDR like grpc and http.server do, so a port whose last connections linger in
    TIME_WAIT counts as free, and leaves SO_REUSEPORT off, so any listener at all counts as taken."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(errno.EADDRNOTAVAIL, f"cannot listen on {host}: {exc.strerror}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(what, host, port, hint) from None
                raise


def bind_grpc(
    server: grpc.aio.Server,
    host: str,
    port: int,
    credentials: grpc.ServerCredentials | None = None,
    *,
    reuse_port: bool = False,
    what: str = "gRPC",
    hint: str = GRPC_HINT,
) -> int:
    """Adds the listening port to a grpc.aio server built with port_options(reuse_port); returns the port.

    Raises PortInUse when the port is taken (and not shared on purpose) or grpc cannot bind it."""
    if not reuse_port:
        check_free(host, port, what, hint)
    target = address(host, port)
    try:
        if credentials is None:
            bound = server.add_insecure_port(target)
        else:
            bound = server.add_secure_port(target, credentials)
    except RuntimeError:  # grpc's "Failed to bind to address ...", e.g. lost a race with another process
        bound = 0
    if bound == 0:
        # Name the cause when it is one we can see; with reuse_port the holder does not share the port.
        check_free(host, port, what, "the process holding it does not share it" if reuse_port else hint)
        raise OSError(errno.EADDRNOTAVAIL, f"cannot listen on {target} ({what})")
    return bound
