"""gRPC servicer of skylane.growth.v1: business RPCs answer UNIMPLEMENTED until their issue lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skylane.growth.v1 import growth_pb2_grpc

if TYPE_CHECKING:
    from services.growth.app import GrowthApp


class GrowthServicer(growth_pb2_grpc.GrowthServiceServicer):
    def __init__(self, app: GrowthApp) -> None:
        self.app = app
