"""TLS and mutual TLS to partner lenders, against the partner simulator served over TLS on a real socket.

Every refusal also checks the simulator never saw the ping: a call that fails after reaching the partner
would be a different bug (the handshake, not the partner, must be what stops it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest

from services.common.config import ConfigError, parse_document
from services.common.tls import TlsFiles
from services.router.partners.config import Partner, PartnersConfig, PartnerTls
from services.router.partners.domain import BID, ERROR, TIMEOUT, PingResult
from services.router.partners.ping import PartnerChannels, ping_all
from services.router.sim.partner_sim import PartnerSim
from skylane.partner.v1 import partner_pb2, partner_pb2_grpc
from tests.pki import Pki, make_pki
from tests.router.partners.helpers import sim

BID_FEN = 3000
# Short enough that a refusal that hangs instead of failing fast still ends the test quickly; long enough
# for a local TLS handshake on a loaded machine.
PING_TIMEOUT_MS = 1000
BUDGET_MS = 1500


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@asynccontextmanager
async def tls_partner(pki: Pki, *, require_client_cert: bool = False) -> AsyncIterator[tuple[PartnerSim, str]]:
    """The partner simulator behind a TLS-only port on 127.0.0.1 (the server certificate's IP SAN)."""
    servicer = PartnerSim(sim("tlsbank", bid_fen=BID_FEN))
    server = grpc.aio.server()
    partner_pb2_grpc.add_PartnerServiceServicer_to_server(servicer, server)
    credentials = grpc.ssl_server_credentials(
        [(pki.server_key.read_bytes(), pki.server_cert.read_bytes())],
        root_certificates=pki.ca.read_bytes() if require_client_cert else None,
        require_client_auth=require_client_cert,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


def partner(pid: str, endpoint: str, tls: PartnerTls | None) -> Partner:
    return Partner(
        id=pid, endpoint=endpoint, tiers=["tail"], annual_cost_rate=0.1, ping_timeout_ms=PING_TIMEOUT_MS, tls=tls
    )


async def ping(partners: list[Partner]) -> dict[str, PingResult]:
    channels = PartnerChannels()
    try:
        results = await ping_all(channels, partners, "lead-tls", partner_pb2.MaskedApplicant(tier="tail"), BUDGET_MS)
    finally:
        await channels.close()
    return {r.partner_id: r for r in results}


def assert_no_bid(result: PingResult) -> None:
    assert result.status in (ERROR, TIMEOUT), result
    assert result.bid_fen == 0


async def test_partner_trusting_its_ca_bids_over_tls(pki: Pki) -> None:
    async with tls_partner(pki) as (servicer, endpoint):
        results = await ping([partner("tlsbank", endpoint, PartnerTls(ca_file=str(pki.ca)))])
    assert (results["tlsbank"].status, results["tlsbank"].bid_fen) == (BID, BID_FEN)
    assert servicer.record.ping_calls == 1


async def test_plaintext_call_to_a_tls_partner_never_succeeds(pki: Pki) -> None:
    async with tls_partner(pki) as (servicer, endpoint):
        results = await ping([partner("tlsbank", endpoint, None)])
    assert_no_bid(results["tlsbank"])
    assert servicer.record.ping_calls == 0


async def test_server_certificate_from_an_untrusted_ca_is_refused(pki: Pki) -> None:
    async with tls_partner(pki) as (servicer, endpoint):
        results = await ping([partner("tlsbank", endpoint, PartnerTls(ca_file=str(pki.stranger_ca)))])
    assert_no_bid(results["tlsbank"])
    assert servicer.record.ping_calls == 0


async def test_mutual_tls_partner_answers_only_the_client_certificate_its_ca_signed(pki: Pki) -> None:
    ca = str(pki.ca)
    # One endpoint, three TLS settings in one fan-out: each gets its own channel, not the first one's.
    settings = {
        "with-cert": PartnerTls(ca_file=ca, cert_file=str(pki.client_cert), key_file=str(pki.client_key)),
        "no-cert": PartnerTls(ca_file=ca),
        "stranger-cert": PartnerTls(ca_file=ca, cert_file=str(pki.stranger_cert), key_file=str(pki.stranger_key)),
    }
    async with tls_partner(pki, require_client_cert=True) as (servicer, endpoint):
        results = await ping([partner(pid, endpoint, tls) for pid, tls in settings.items()])
    assert (results["with-cert"].status, results["with-cert"].bid_fen) == (BID, BID_FEN)
    assert_no_bid(results["no-cert"])
    assert_no_bid(results["stranger-cert"])
    assert servicer.record.ping_calls == 1  # only the call with the client certificate got through


async def test_tls_file_gone_after_load_fails_the_call_instead_of_falling_back_to_plaintext(pki: Pki) -> None:
    ca = pki.ca.with_name("rotated-ca.pem")
    ca.write_bytes(pki.ca.read_bytes())
    configured = partner("tlsbank", "127.0.0.1:1", PartnerTls(ca_file=str(ca)))  # validated: the file exists
    ca.unlink()
    async with tls_partner(pki) as (servicer, endpoint):
        results = await ping([configured.model_copy(update={"endpoint": endpoint})])
    assert results["tlsbank"].status == ERROR
    assert servicer.record.ping_calls == 0


def lender_yaml(tls: str) -> str:
    return f"lenders: [{{id: tlsbank, endpoint: '127.0.0.1:1', tiers: [tail], annual_cost_rate: 0.1, tls: {tls}}}]"


def test_config_maps_tls_block_to_tls_files(pki: Pki) -> None:
    text = lender_yaml(f"{{ca_file: '{pki.ca}', cert_file: '{pki.client_cert}', key_file: '{pki.client_key}'}}")
    tls = parse_document(text, PartnersConfig, "partners").model.lenders[0].tls
    assert tls is not None
    assert tls.files() == TlsFiles(cert=pki.client_cert, key=pki.client_key, ca=pki.ca)
    system_roots = parse_document(lender_yaml("{}"), PartnersConfig, "partners").model.lenders[0].tls
    assert system_roots is not None and system_roots.files() == TlsFiles()
    plaintext = parse_document(lender_yaml("null"), PartnersConfig, "partners").model.lenders[0]
    assert plaintext.tls is None


def test_config_refuses_a_ca_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ConfigError) as err:
        parse_document(lender_yaml(f"{{ca_file: '{missing}'}}"), PartnersConfig, "partners")
    message = str(err.value)
    assert "partner tlsbank" in message
    assert str(missing) in message


def test_config_refuses_a_ca_file_that_is_not_pem(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.der"
    garbage.write_bytes(b"\x30\x82\x01\x0a not a PEM file")
    with pytest.raises(ConfigError) as err:
        parse_document(lender_yaml(f"{{ca_file: '{garbage}'}}"), PartnersConfig, "partners")
    assert "partner tlsbank" in str(err.value)
    assert str(garbage) in str(err.value)


def test_config_refuses_a_client_certificate_without_its_key(pki: Pki) -> None:
    with pytest.raises(ConfigError) as err:
        parse_document(
            lender_yaml(f"{{ca_file: '{pki.ca}', cert_file: '{pki.client_cert}'}}"), PartnersConfig, "partners"
        )
    message = str(err.value)
    assert "partner tlsbank" in message
    assert "cert_file and tls.key_file go together" in message
