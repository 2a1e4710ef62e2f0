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

class LeadOutcomeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEAD_OUTCOME_KIND_UNSPECIFIED: _ClassVar[LeadOutcomeKind]
    LEAD_OUTCOME_ACCEPTED: _ClassVar[LeadOutcomeKind]
    LEAD_OUTCOME_APPROVED: _ClassVar[LeadOutcomeKind]
    LEAD_OUTCOME_FUNDED: _ClassVar[LeadOutcomeKind]
    LEAD_OUTCOME_REJECTED: _ClassVar[LeadOutcomeKind]
    LEAD_OUTCOME_RETURNED: _ClassVar[LeadOutcomeKind]
LEAD_OUTCOME_KIND_UNSPECIFIED: LeadOutcomeKind
LEAD_OUTCOME_ACCEPTED: LeadOutcomeKind
LEAD_OUTCOME_APPROVED: LeadOutcomeKind
LEAD_OUTCOME_FUNDED: LeadOutcomeKind
LEAD_OUTCOME_REJECTED: LeadOutcomeKind
LEAD_OUTCOME_RETURNED: LeadOutcomeKind

class ReportLeadOutcomeRequest(_message.Message):
    __slots__ = ("idempotency_key", "lead_id", "partner_id", "outcome", "funded_amount", "reason", "occurred_at")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    lead_id: str
    partner_id: str
    outcome: LeadOutcomeKind
    funded_amount: _types_pb2.Money
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., lead_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., outcome: _Optional[_Union[LeadOutcomeKind, str]] = ..., funded_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportLeadOutcomeResponse(_message.Message):
    __slots__ = ("lead_id", "outcome")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    outcome: LeadOutcomeKind
    def __init__(self, lead_id: _Optional[str] = ..., outcome: _Optional[_Union[LeadOutcomeKind, str]] = ...) -> None: ...

class GetLeadTraceRequest(_message.Message):
    __slots__ = ("lead_id",)
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    def __init__(self, lead_id: _Optional[str] = ...) -> None: ...

class LeadTraceEntry(_message.Message):
    __slots__ = ("partner_id", "status", "detail", "bid", "latency_ms", "expected_value_fen", "rank")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    status: str
    detail: str
    bid: _types_pb2.Money
    latency_ms: float
    expected_value_fen: float
    rank: int
    def __init__(self, partner_id: _Optional[str] = ..., status: _Optional[str] = ..., detail: _Optional[str] = ..., bid: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., latency_ms: _Optional[float] = ..., expected_value_fen: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class LeadDeliveryInfo(_message.Message):
    __slots__ = ("delivery_id", "partner_id", "status", "attempts", "last_error", "price")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    partner_id: str
    status: str
    attempts: int
    last_error: str
    price: _types_pb2.Money
    def __init__(self, delivery_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class LeadTrace(_message.Message):
    __slots__ = ("lead_id", "decision_id", "tier", "source_channel", "policy", "config_version", "status", "partner_id", "outcome", "entries", "deliveries", "created_at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    decision_id: str
    tier: str
    source_channel: str
    policy: str
    config_version: str
    status: str
    partner_id: str
    outcome: LeadOutcomeKind
    entries: _containers.RepeatedCompositeFieldContainer[LeadTraceEntry]
    deliveries: _containers.RepeatedCompositeFieldContainer[LeadDeliveryInfo]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., tier: _Optional[str] = ..., source_channel: _Optional[str] = ..., policy: _Optional[str] = ..., config_version: _Optional[str] = ..., status: _Optional[str] = ..., partner_id: _Optional[str] = ..., outcome: _Optional[_Union[LeadOutcomeKind, str]] = ..., entries: _Optional[_Iterable[_Union[LeadTraceEntry, _Mapping]]] = ..., deliveries: _Optional[_Iterable[_Union[LeadDeliveryInfo, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("page", "partner_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    page: _types_pb2.PageRequest
    partner_id: str
    def __init__(self, page: _Optional[_Union[_types_pb2.PageRequest, _Mapping]] = ..., partner_id: _Optional[str] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("delivery_id", "lead_id", "partner_id", "attempts", "last_error", "dead_at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    DEAD_AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    lead_id: str
    partner_id: str
    attempts: int
    last_error: str
    dead_at: _timestamp_pb2.Timestamp
    def __init__(self, delivery_id: _Optional[str] = ..., lead_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., dead_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "page")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    page: _types_pb2.PageInfo
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ..., page: _Optional[_Union[_types_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ReplayDeadLetterRequest(_message.Message):
    __slots__ = ("idempotency_key", "delivery_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    delivery_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class ReplayDeadLetterResponse(_message.Message):
    __slots__ = ("delivery_id", "status")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    status: str
    def __init__(self, delivery_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class GetPartnerReportRequest(_message.Message):
    __slots__ = ("partner_id",)
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    def __init__(self, partner_id: _Optional[str] = ...) -> None: ...

class PartnerReportRow(_message.Message):
    __slots__ = ("partner_id", "pings", "ping_response_rate", "bid_rate", "win_rate", "post_acceptance_rate", "funded_rate", "revenue_per_lead_fen", "p50_latency_ms", "p99_latency_ms", "returns", "accepted_leads", "accept_estimate", "fund_estimate", "circuit")
    class AcceptEstimateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class FundEstimateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PINGS_FIELD_NUMBER: _ClassVar[int]
    PING_RESPONSE_RATE_FIELD_NUMBER: _ClassVar[int]
    BID_RATE_FIELD_NUMBER: _ClassVar[int]
    WIN_RATE_FIELD_NUMBER: _ClassVar[int]
    POST_ACCEPTANCE_RATE_FIELD_NUMBER: _ClassVar[int]
    FUNDED_RATE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_PER_LEAD_FEN_FIELD_NUMBER: _ClassVar[int]
    P50_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_LEADS_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    FUND_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    pings: int
    ping_response_rate: float
    bid_rate: float
    win_rate: float
    post_acceptance_rate: float
    funded_rate: float
    revenue_per_lead_fen: float
    p50_latency_ms: float
    p99_latency_ms: float
    returns: int
    accepted_leads: int
    accept_estimate: _containers.ScalarMap[str, float]
    fund_estimate: _containers.ScalarMap[str, float]
    circuit: str
    def __init__(self, partner_id: _Optional[str] = ..., pings: _Optional[int] = ..., ping_response_rate: _Optional[float] = ..., bid_rate: _Optional[float] = ..., win_rate: _Optional[float] = ..., post_acceptance_rate: _Optional[float] = ..., funded_rate: _Optional[float] = ..., revenue_per_lead_fen: _Optional[float] = ..., p50_latency_ms: _Optional[float] = ..., p99_latency_ms: _Optional[float] = ..., returns: _Optional[int] = ..., accepted_leads: _Optional[int] = ..., accept_estimate: _Optional[_Mapping[str, float]] = ..., fund_estimate: _Optional[_Mapping[str, float]] = ..., circuit: _Optional[str] = ...) -> None: ...

class GetPartnerReportResponse(_message.Message):
    __slots__ = ("partners",)
    PARTNERS_FIELD_NUMBER: _ClassVar[int]
    partners: _containers.RepeatedCompositeFieldContainer[PartnerReportRow]
    def __init__(self, partners: _Optional[_Iterable[_Union[PartnerReportRow, _Mapping]]] = ...) -> None: ...
