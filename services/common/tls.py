"""TLS for gRPC: server credentials (optionally requiring client certificates) and channel credentials.

Files are PEM. They are read once, when credentials are built, and a missing or unreadable file is a
`TlsError` naming the file and what it was for, so a misconfigured deployment stops at start-up with
the reason instead of serving plaintext or failing every handshake later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsError(ValueError):
    pass


@dataclass(frozen=True)
class TlsFiles:
    """One side's PEM files. A server needs cert + key; its `ca` makes client certificates mandatory
    (mutual TLS) and says which CA must have signed them. A client's `ca` is whom it trusts (empty: the
    system roots); cert + key, when given, are the client certificate it presents."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise TlsError("a TLS certificate and its private key go together: give both or neither")

    @classmethod
    def of(cls, cert: str | None = None, key: str | None = None, ca: str | None = None) -> TlsFiles:
        """From flags, environment or config, where an empty string means not given."""
        return cls(Path(cert) if cert else None, Path(key) if key else None, Path(ca) if ca else None)


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read the TLS {what} {str(path)!r}: {exc.strerror or exc}") from exc
    if b"-----BEGIN" not in data:
        raise TlsError(f"the TLS {what} {str(path)!r} is not a PEM file")
    return data


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    if files.cert is None or files.key is None:
        raise TlsError("a TLS server needs a certificate and a private key")
    key = _read(files.key, "private key")
    cert = _read(files.cert, "certificate")
    client_ca = _read(files.ca, "client CA")
    assert key is not None and cert is not None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(files.ca, "CA"),
        private_key=_read(files.key, "client private key"),
        certificate_chain=_read(files.cert, "client certificate"),
    )
