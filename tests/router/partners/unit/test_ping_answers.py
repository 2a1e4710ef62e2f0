"""How a ping answer is read: no bid offered is NO_BID; an absurd bid is an ERROR, not a bid."""

from __future__ import annotations

from services.router.partners.ping import interpret
from skylane.partner.v1 import partner_pb2


def test_a_ping_answer_without_a_bid_or_with_an_absurd_one_is_no_bid() -> None:
    assert interpret("p", partner_pb2.PingResponse(bid_offered=False, known_applicant=False), 1.0).status == "NO_BID"
    assert interpret("p", partner_pb2.PingResponse(bid_offered=True, bid={"fen": 10**9}), 1.0).status == "ERROR"
