"""A throw-away PKI for TLS tests: a CA, a server certificate for 127.0.0.1/localhost, client
certificates, and a second CA that signed nothing we trust (for the refusals); and the router served
with it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.common.server import ServerOptions
from services.common.tls import TlsFiles
from services.router.app import build
from tests.helpers import db_target_for, running_service

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path  # CN skylane-ops-client
    client_key: Path
    app_cert: Path  # CN channel-app: a customer-facing caller, signed by the same CA
    app_key: Path
    stranger_ca: Path  # a CA nobody here was signed by
    stranger_cert: Path  # a client certificate signed by the stranger CA
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("Skylane test CA")
    server, server_key = _leaf("skylane-server", ca, ca_key, server=True)
    client, client_key = _leaf("skylane-ops-client", ca, ca_key, server=False)
    app, app_key = _leaf("channel-app", ca, ca_key, server=False)
    stranger_ca, stranger_ca_key = _ca("Someone else's CA")
    stranger, stranger_key = _leaf("stranger", stranger_ca, stranger_ca_key, server=False)
    return Pki(
        ca=_write_cert(directory / "ca.pem", ca),
        server_cert=_write_cert(directory / "server.pem", server),
        server_key=_write_key(directory / "server.key", server_key),
        client_cert=_write_cert(directory / "client.pem", client),
        client_key=_write_key(directory / "client.key", client_key),
        app_cert=_write_cert(directory / "app.pem", app),
        app_key=_write_key(directory / "app.key", app_key),
        stranger_ca=_write_cert(directory / "stranger-ca.pem", stranger_ca),
        stranger_cert=_write_cert(directory / "stranger.pem", stranger),
        stranger_key=_write_key(directory / "stranger.key", stranger_key),
    )


@asynccontextmanager
async def tls_router(
    tmp_path: Path, pki: Pki, *, mutual: bool, ops_clients: frozenset[str] = frozenset()
) -> AsyncIterator[str]:
    """The router with the default config over TLS on SQLite; `mutual` also requires client certificates
    from the PKI's CA. Yields its address."""
    config = tmp_path / "router.yaml"
    shutil.copy(REPO / "config" / "router.yaml", config)
    options = ServerOptions(
        port=0,
        metrics_port=None,
        config_poll_seconds=None,
        access_log=False,
        tls=TlsFiles(cert=pki.server_cert, key=pki.server_key, ca=pki.ca if mutual else None),
        ops_clients=ops_clients,
    )
    async with (
        db_target_for("sqlite", tmp_path, "router") as target,
        running_service(build, target, config, options=options) as harness,
    ):
        yield harness.service.address
