"""gRPC servicer of skylane.router.v1: business RPCs answer UNIMPLEMENTED until their issue lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skylane.router.v1 import router_pb2_grpc

if TYPE_CHECKING:
    from services.router.app import RouterApp


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, app: RouterApp) -> None:
        self.app = app
