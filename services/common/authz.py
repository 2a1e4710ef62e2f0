"""Ops methods answer only ops clients, identified by their client certificate under mutual TLS.

Customer channels, partner lenders and ops staff reach the same port. The methods that change how the
service behaves or expose its internals — every method of an `*OpsService`, the Admin config methods
and what each service lists in `ServiceApp.ops_methods()` — are refused with PERMISSION_DENIED unless
the caller's certificate common name is on the ops-client allowlist (`skylane serve --ops-client CN`).
The allowlist needs mutual TLS: without a verified client certificate there is no identity to check,
so the server refuses to start with an allowlist and no client CA. With no allowlist, ops methods are
open to whoever reaches the port (a mesh that authorises callers, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import grpc

from services.common.errors import PermissionDenied

ADMIN_OPS_METHODS = frozenset(
    f"/skylane.common.v1.Admin/{name}" for name in ("GetConfig", "ReloadConfig", "ValidateConfig")
)

Guard = Callable[[grpc.aio.ServicerContext], None]


def is_ops_method(method: str, listed: Collection[str]) -> bool:
    """method is grpc's full name, '/package.Service/Method'."""
    service = method.rsplit("/", 2)[-2] if method.count("/") >= 2 else ""
    return service.endswith("OpsService") or method in ADMIN_OPS_METHODS or method in listed


def _common_names(context: grpc.aio.ServicerContext) -> set[str]:
    names: list[Any] = (context.auth_context() or {}).get("x509_common_name", [])
    return {n.decode() if isinstance(n, bytes) else str(n) for n in names}


class OpsGuard:
    """Gives ops methods a check of the caller; every other method gets none (no per-call cost)."""

    def __init__(self, allowed: Iterable[str], ops_methods: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)
        self.ops_methods = frozenset(ops_methods)

    def for_method(self, method: str) -> Guard | None:
        if not is_ops_method(method, self.ops_methods):
            return None
        allowed, short = self.allowed, method.rsplit("/", 1)[-1]

        def guard(context: grpc.aio.ServicerContext) -> None:
            names = _common_names(context)
            if not names & allowed:
                who = ", ".join(sorted(names)) or "no client certificate"
                raise PermissionDenied(
                    f"{short} is an ops method; the caller ({who}) is not an ops client", reason="NOT_AN_OPS_CLIENT"
                )

        return guard
