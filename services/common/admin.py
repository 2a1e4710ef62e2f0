"""skylane.common.v1.Admin: config inspection, validation and reload, and a liveness probe."""

from __future__ import annotations

import asyncio

import grpc
import yaml

from services.common.app import ServiceApp
from services.common.call_context import current_request_id
from services.common.config import ConfigError
from services.common.errors import FailedPrecondition, Violations
from services.common.logging import mask_value
from services.registry import nothing_live
from skylane.common.v1 import admin_pb2, admin_pb2_grpc

MAX_HOLD_MS = 10_000


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, app: ServiceApp) -> None:
        self.app = app

    async def GetConfig(
        self, request: admin_pb2.GetConfigRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ConfigInfo:
        current = self.app.config.current
        return admin_pb2.ConfigInfo(
            service=self.app.name,
            version=current.version,
            source=current.source,
            loaded_at=current.loaded_at.isoformat(),
            effective_yaml=yaml.safe_dump(mask_value(None, current.document), sort_keys=False, allow_unicode=True),
            warnings=nothing_live(self.app),
            timezone=str(getattr(current.model, "timezone", "")),
        )

    async def ReloadConfig(
        self, request: admin_pb2.ReloadConfigRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ReloadConfigResponse:
        async def reload() -> admin_pb2.ReloadConfigResponse:
            try:
                changed, previous, version = self.app.config.reload()
            except ConfigError as exc:
                raise FailedPrecondition(
                    "CONFIG_INVALID", f"{exc.source}: " + "; ".join(exc.errors), subject=exc.source
                ) from None
            return admin_pb2.ReloadConfigResponse(changed=changed, previous_version=previous, version=version)

        return await self.app.write(
            "Admin.ReloadConfig", request, admin_pb2.ReloadConfigResponse, lambda session: reload()
        )

    async def ValidateConfig(
        self, request: admin_pb2.ValidateConfigRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ValidateConfigResponse:
        try:
            loaded = self.app.config.parse(request.yaml, source="<request>")
        except ConfigError as exc:
            return admin_pb2.ValidateConfigResponse(valid=False, errors=exc.errors)
        return admin_pb2.ValidateConfigResponse(valid=True, version=loaded.version)

    async def Probe(
        self, request: admin_pb2.ProbeRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ProbeResponse:
        v = Violations()
        v.check(0 <= request.hold_ms <= MAX_HOLD_MS, "hold_ms", f"must be between 0 and {MAX_HOLD_MS}")
        v.raise_if_any()
        if request.hold_ms:
            await asyncio.sleep(request.hold_ms / 1000)
        return admin_pb2.ProbeResponse(service=self.app.name, request_id=current_request_id())
