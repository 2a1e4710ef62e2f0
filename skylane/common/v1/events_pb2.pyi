import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skylane.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STATUS_UNSPECIFIED: _ClassVar[IngestStatus]
    INGEST_STATUS_ACCEPTED: _ClassVar[IngestStatus]
    INGEST_STATUS_DUPLICATE: _ClassVar[IngestStatus]
INGEST_STATUS_UNSPECIFIED: IngestStatus
INGEST_STATUS_ACCEPTED: IngestStatus
INGEST_STATUS_DUPLICATE: IngestStatus

class StreamEventsRequest(_message.Message):
    __slots__ = ("cursor", "page_size", "follow", "types")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    page_size: int
    follow: bool
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cursor: _Optional[str] = ..., page_size: _Optional[int] = ..., follow: _Optional[bool] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("events", "cursor", "caught_up")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[DomainEvent]
    cursor: str
    caught_up: bool
    def __init__(self, events: _Optional[_Iterable[_Union[DomainEvent, _Mapping]]] = ..., cursor: _Optional[str] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class DomainEvent(_message.Message):
    __slots__ = ("event_id", "service", "type", "customer", "occurred_at", "data", "cursor")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    service: str
    type: str
    customer: _types_pb2.CustomerRef
    occurred_at: _timestamp_pb2.Timestamp
    data: _containers.ScalarMap[str, str]
    cursor: str
    def __init__(self, event_id: _Optional[str] = ..., service: _Optional[str] = ..., type: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[_Mapping[str, str]] = ..., cursor: _Optional[str] = ...) -> None: ...

class OutsideEvent(_message.Message):
    __slots__ = ("idempotency_key", "source", "type", "customer", "occurred_at", "time_zone", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    source: str
    type: str
    customer: _types_pb2.CustomerRef
    occurred_at: _timestamp_pb2.Timestamp
    time_zone: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., source: _Optional[str] = ..., type: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class IngestEventsRequest(_message.Message):
    __slots__ = ("idempotency_key", "events")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    events: _containers.RepeatedCompositeFieldContainer[OutsideEvent]
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., events: _Optional[_Iterable[_Union[OutsideEvent, _Mapping]]] = ...) -> None: ...

class IngestEventsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[IngestResult]
    def __init__(self, results: _Optional[_Iterable[_Union[IngestResult, _Mapping]]] = ...) -> None: ...

class IngestResult(_message.Message):
    __slots__ = ("idempotency_key", "status", "event_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    status: IngestStatus
    event_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., status: _Optional[_Union[IngestStatus, str]] = ..., event_id: _Optional[str] = ...) -> None: ...
