"""Which unary methods exist (from the generated descriptors) and which server serves each."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

import skylane

_SKYLANE = Path(skylane.__file__).resolve().parent


@dataclass(frozen=True)
class Method:
    """One unary method as served by one server."""

    server: str
    service: ServiceDescriptor
    descriptor: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.service.full_name}/{self.descriptor.name}"

    @property
    def label(self) -> str:
        """`server:Service/Method`: Admin is on every server, so the server is part of the name."""
        return f"{self.server}:{self.service.name}/{self.descriptor.name}"

    @property
    def request_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.descriptor.input_type)

    @property
    def response_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.descriptor.output_type)


def pb2_modules() -> Iterator[Any]:
    """Every generated skylane.<area>.v1.*_pb2 module, imported."""
    for path in sorted(_SKYLANE.glob("*/v1/*_pb2.py")):
        area, version = path.parent.parent.name, path.parent.name
        yield importlib.import_module(f"skylane.{area}.{version}.{path.stem}")


def services() -> list[ServiceDescriptor]:
    """Every service declared in the generated descriptors, including ones no Skylane server runs."""
    return [svc for module in pb2_modules() for svc in module.DESCRIPTOR.services_by_name.values()]


def unary_methods(service: ServiceDescriptor) -> list[MethodDescriptor]:
    return [m for m in service.methods if not (m.client_streaming or m.server_streaming)]


def methods_for(server: str, served: set[str]) -> list[Method]:
    """The unary methods of the descriptor services that `server` reports as served (by full name)."""
    return [
        Method(server, svc, method) for svc in services() if svc.full_name in served for method in unary_methods(svc)
    ]
