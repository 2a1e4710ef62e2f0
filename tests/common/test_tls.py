"""gRPC over TLS and mutual TLS: real servers, real handshakes, certificates from a throw-away CA.

Plaintext stays the default (behind a mesh); with --tls-cert/--tls-key a service serves TLS only, and
with --tls-client-ca it also refuses callers without a certificate from that CA. Ops CLIs reach a TLS
server through SKYLANE_TLS_CA (and SKYLANE_TLS_CLIENT_CERT/KEY).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from bench.harness import free_port
from services.common.tls import TlsError, TlsFiles, channel_credentials, server_credentials
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.helpers import serve_args, wait_serving
from tests.pki import Pki, make_pki
from tests.pki import tls_router as served_with_tls

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def tls_router(tmp_path: Path, pki: Pki, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The router served with TLS; `mutual` (indirect param) also requires client certificates."""
    async with served_with_tls(tmp_path, pki, mutual=bool(getattr(request, "param", False))) as address:
        yield address


async def _probe(address: str, credentials: grpc.ChannelCredentials | None) -> str:
    channel = (
        grpc.aio.insecure_channel(address) if credentials is None else grpc.aio.secure_channel(address, credentials)
    )
    async with channel:
        reply = await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest(), timeout=10)
    return reply.service


async def test_tls_server_answers_a_client_that_trusts_its_ca(tls_router: str, pki: Pki) -> None:
    assert await _probe(tls_router, channel_credentials(TlsFiles(ca=pki.ca))) == "router"


async def test_tls_server_refuses_plaintext_and_clients_trusting_another_ca(tls_router: str, pki: Pki) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as plaintext:
        await _probe(tls_router, None)
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError) as wrong_ca:
        await _probe(tls_router, channel_credentials(TlsFiles(ca=pki.stranger_ca)))
    assert wrong_ca.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("tls_router", [True], indirect=True)
async def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(tls_router: str, pki: Pki) -> None:
    ours = TlsFiles(cert=pki.client_cert, key=pki.client_key, ca=pki.ca)
    assert await _probe(tls_router, channel_credentials(ours)) == "router"
    for refused in (
        TlsFiles(ca=pki.ca),  # no client certificate at all
        TlsFiles(cert=pki.stranger_cert, key=pki.stranger_key, ca=pki.ca),  # signed by another CA
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await _probe(tls_router, channel_credentials(refused))
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_unreadable_or_half_given_tls_files_are_refused_with_the_file_named(tmp_path: Path, pki: Pki) -> None:
    missing = tmp_path / "nope.key"
    with pytest.raises(TlsError, match=r"nope\.key"):
        server_credentials(TlsFiles(cert=pki.server_cert, key=missing))
    not_pem = tmp_path / "garbage.pem"
    not_pem.write_text("hello", encoding="utf-8")
    with pytest.raises(TlsError, match=r"garbage\.pem.*not a PEM"):
        server_credentials(TlsFiles(cert=not_pem, key=pki.server_key))
    with pytest.raises(TlsError, match="give both or neither"):
        TlsFiles(cert=pki.server_cert)


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=_plain_env(), cwd=REPO)


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL") and not k.startswith("SKYLANE_TLS_")}


async def test_serve_with_tls_flags_and_an_ops_cli_that_trusts_the_ca(tmp_path: Path, pki: Pki) -> None:
    port = free_port()
    tls = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    process = _spawn(serve_args(tmp_path, "router", port, "--grace", "2", *tls))
    try:
        await wait_serving(f"127.0.0.1:{port}", process, channel_credentials(TlsFiles(ca=pki.ca)))
        versions = [sys.executable, "-m", "services.cli", "router", "versions", "--address", f"127.0.0.1:{port}"]
        trusted = await asyncio.to_thread(
            subprocess.run,
            versions,
            env={**_plain_env(), "SKYLANE_TLS_CA": str(pki.ca)},
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert trusted.returncode == 0, trusted.stderr
        assert "champion" in trusted.stdout.lower()
        plaintext = await asyncio.to_thread(
            subprocess.run, versions, env=_plain_env(), capture_output=True, text=True, cwd=REPO, timeout=60
        )
        assert plaintext.returncode == 1 and "UNAVAILABLE" in plaintext.stderr
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


def test_serve_refuses_to_start_with_a_missing_tls_key(tmp_path: Path, pki: Pki) -> None:
    args = serve_args(
        tmp_path, "router", free_port(), "--tls-cert", str(pki.server_cert), "--tls-key", str(tmp_path / "x.key")
    )
    result = subprocess.run(args, env=_plain_env(), capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "x.key" in result.stderr and "cannot start" in result.stderr
    assert not (tmp_path / "var" / "router.db").exists()  # refused before anything was created
