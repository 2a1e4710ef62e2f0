"""Domain exceptions and their gRPC status mapping with google.rpc error details.

Services raise these; the error interceptor turns them into a status with details so callers can
act on them (which field, which rule, which quota). Anything else becomes INTERNAL with no internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN = "skylane"
MAX_MESSAGE = 512  # a status message travels in a header: it never grows with what the caller sent
MAX_ECHO = 64  # at most this much of a caller's value is repeated back


def shorten(text: str, limit: int = MAX_ECHO) -> str:
    """text, or its first `limit` characters and an ellipsis: errors never echo a caller's whole value."""
    return text if len(text) <= limit else f"{text[:limit]}…"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base class: something the caller did or asked for, never a server fault."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: str = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        message = shorten(message, MAX_MESSAGE)
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN)
        return [_pack(info)]

    def to_status(self) -> status_pb2.Status:
        rpc_code = getattr(code_pb2, self.grpc_code.name)
        return status_pb2.Status(code=rpc_code, message=self.message, details=self.details())


class InvalidArgument(DomainError):
    """Malformed input: one field violation per bad field."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], message: str | None = None) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one violation")
        self.violations = violations
        super().__init__(message or "; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def single(cls, field_path: str, description: str, *, reason: str | None = None) -> InvalidArgument:
        error = cls([FieldViolation(field_path, description)])
        if reason is not None:
            error.reason = reason
        return error

    def details(self) -> list[any_pb2.Any]:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=shorten(v.field, 128), description=v.description)
                for v in self.violations
            ]
        )
        return [*super().details(), _pack(bad)]


class NotFound(DomainError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"

    def __init__(
        self, resource_type: str, resource_name: str, message: str | None = None, *, reason: str | None = None
    ) -> None:
        self.resource_type, self.resource_name = resource_type, shorten(resource_name)
        super().__init__(message or f"{resource_type} {self.resource_name!r} not found", reason=reason)

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.ResourceInfo(
            resource_type=self.resource_type, resource_name=self.resource_name, description=self.message
        )
        return [*super().details(), _pack(info)]


class FailedPrecondition(DomainError):
    """A business rule refuses the request in the current state (e.g. not enough points)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, reason: str, message: str, *, subject: str = "") -> None:
        self.subject = subject
        super().__init__(message, reason=reason)

    def details(self) -> list[any_pb2.Any]:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=self.reason, subject=self.subject, description=self.message
                )
            ]
        )
        return [*super().details(), _pack(failure)]


class QuotaExceeded(DomainError):
    """A cap, budget, stock or quota is used up."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, reason: str, message: str, *, subject: str = "") -> None:
        self.subject = subject
        super().__init__(message, reason=reason)

    def details(self) -> list[any_pb2.Any]:
        failure = error_details_pb2.QuotaFailure(
            violations=[error_details_pb2.QuotaFailure.Violation(subject=self.subject, description=self.message)]
        )
        return [*super().details(), _pack(failure)]


class AlreadyExists(DomainError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


@dataclass
class Violations:
    """Collects field violations during validation and raises them all at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def check(self, ok: bool, field_path: str, description: str) -> bool:
        if not ok:
            self.add(field_path, description)
        return ok

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(list(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
