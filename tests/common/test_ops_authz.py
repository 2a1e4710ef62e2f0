"""Ops methods answer only the ops clients named by certificate; customer methods stay open to any
caller the client CA signed. Real mutual-TLS handshakes, certificates from a throw-away CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool

from bench.harness import free_port
from services.common.authz import is_ops_method
from services.common.server import ServerOptions, start_service
from services.common.settings import AppSettings
from services.common.tls import TlsError, TlsFiles, channel_credentials
from services.registry import SERVICES
from services.router.app import build
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from skylane.router.v1 import leads_pb2, leads_pb2_grpc, router_pb2, router_pb2_grpc
from tests.helpers import error_reason, key, serve_args
from tests.pki import Pki, make_pki, tls_router

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def guarded_router(tmp_path: Path, pki: Pki) -> AsyncIterator[str]:
    async with tls_router(tmp_path, pki, mutual=True, ops_clients=frozenset({"skylane-ops-client"})) as address:
        yield address


def _channel(address: str, pki: Pki, *, ops: bool) -> grpc.aio.Channel:
    cert, key_file = (pki.client_cert, pki.client_key) if ops else (pki.app_cert, pki.app_key)
    return grpc.aio.secure_channel(address, channel_credentials(TlsFiles(cert=cert, key=key_file, ca=pki.ca)))


async def test_the_ops_client_may_call_ops_methods(guarded_router: str, pki: Pki) -> None:
    async with _channel(guarded_router, pki, ops=True) as channel:
        versions = await router_pb2_grpc.RouterOpsServiceStub(channel).ListPolicyVersions(
            router_pb2.ListPolicyVersionsRequest()
        )
        assert versions.versions
        config = await admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest())
        assert config.version
        await leads_pb2_grpc.LeadServiceStub(channel).ListDeadLetters(leads_pb2.ListDeadLettersRequest())


async def test_another_client_of_the_same_ca_is_refused_ops_methods_only(guarded_router: str, pki: Pki) -> None:
    async with _channel(guarded_router, pki, ops=False) as channel:
        admin = admin_pb2_grpc.AdminStub(channel)
        assert (await admin.Probe(admin_pb2.ProbeRequest())).service == "router"  # not an ops method
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await router_pb2_grpc.RouterServiceStub(channel).GetDecision(
                router_pb2.GetDecisionRequest(decision_id="no-such-decision")
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # reached the handler: customer methods are open
        refused_calls = [
            router_pb2_grpc.RouterOpsServiceStub(channel).ListPolicyVersions(router_pb2.ListPolicyVersionsRequest()),
            admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key())),
            admin.GetConfig(admin_pb2.GetConfigRequest()),
            leads_pb2_grpc.LeadServiceStub(channel).ListDeadLetters(leads_pb2.ListDeadLettersRequest()),
            # A request that breaks the method's rules is refused for the caller, before its fields are read.
            leads_pb2_grpc.LeadServiceStub(channel).ListDeadLetters(
                leads_pb2.ListDeadLettersRequest(page=types_pb2.PageRequest(page_token="not a token"))
            ),
        ]
        for call in refused_calls:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_reason(refused.value) == "NOT_AN_OPS_CLIENT"
            assert "channel-app" in (refused.value.details() or "")


async def test_an_allowlist_without_client_certificates_refuses_to_start(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "router.yaml"
    shutil.copy(REPO / "config" / "router.yaml", config)
    app = build(AppSettings(config_path=config, db_url=f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"))
    options = ServerOptions(
        port=0,
        metrics_port=None,
        tls=TlsFiles(cert=pki.server_cert, key=pki.server_key),
        ops_clients=frozenset({"skylane-ops-client"}),
    )
    with pytest.raises(TlsError, match="mutual TLS"):
        await start_service(app, options)
    assert not (tmp_path / "router.db").exists()  # refused before the database was touched
    await app.db.dispose()


def test_serve_refuses_ops_clients_without_a_client_ca(tmp_path: Path, pki: Pki) -> None:
    tls = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    args = serve_args(tmp_path, "router", free_port(), *tls, "--ops-client", "skylane-ops-client")
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert "--ops-client needs mutual TLS" in result.stderr


def test_every_listed_ops_method_exists_and_ops_services_are_covered(tmp_path: Path) -> None:
    pool = descriptor_pool.Default()
    for name, entry in SERVICES.items():
        settings = AppSettings(
            config_path=REPO / "config" / f"{name}.yaml", db_url=f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
        )
        listed = entry.build(settings).ops_methods()
        for method in listed:
            service, _, rpc = method.strip("/").partition("/")
            assert pool.FindMethodByName(f"{service}.{rpc}"), method
    assert is_ops_method("/skylane.router.v1.RouterOpsService/ActivatePolicyVersion", ())
    assert is_ops_method("/skylane.growth.v1.GrowthOpsService/RunMaintenance", ())
    assert is_ops_method("/skylane.common.v1.Admin/ReloadConfig", ())
    assert not is_ops_method("/skylane.common.v1.Admin/Probe", ())
    assert not is_ops_method("/skylane.router.v1.LeadService/ReportLeadOutcome", ())
    assert not is_ops_method("/skylane.router.v1.RouterService/RouteApplicant", ())
