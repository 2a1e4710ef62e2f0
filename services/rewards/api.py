"""gRPC servicer of skylane.rewards.v1: business RPCs answer UNIMPLEMENTED until their issue lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skylane.rewards.v1 import rewards_pb2_grpc

if TYPE_CHECKING:
    from services.rewards.app import RewardsApp


class RewardsServicer(rewards_pb2_grpc.RewardsServiceServicer):
    def __init__(self, app: RewardsApp) -> None:
        self.app = app
