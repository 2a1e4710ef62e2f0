"""StreamEvents is an ops method: behind an ops-client allowlist only the ops client may stream; the
ingest stays open to any caller the client CA signed. Real mutual-TLS handshakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from services.common.tls import TlsFiles, channel_credentials
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.events.helpers import drain
from tests.helpers import error_reason, key
from tests.pki import Pki, make_pki, tls_router


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


async def test_only_the_ops_client_may_stream_events(guarded_router: str, pki: Pki) -> None:
    async with _channel(guarded_router, pki, ops=False) as channel:
        ingest = events_pb2_grpc.EventIngestServiceStub(channel)
        event = events_pb2.OutsideEvent(
            idempotency_key=key(), source="cdp", type="birthday", customer=types_pb2.CustomerRef(ref="cust-hash-0001")
        )
        answer = await ingest.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[event]))
        assert answer.results[0].status == events_pb2.INGEST_STATUS_ACCEPTED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await drain(channel)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_reason(refused.value) == "NOT_AN_OPS_CLIENT"
    async with _channel(guarded_router, pki, ops=True) as channel:
        events, _ = await drain(channel)
        assert [(e.type, e.customer.ref) for e in events] == [("outside.birthday", "cust-hash-0001")]
