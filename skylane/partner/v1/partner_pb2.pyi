from skylane.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MaskedApplicant(_message.Message):
    __slots__ = ("phone_hash", "age_band", "region", "score_band", "requested_amount", "tier", "term_months")
    PHONE_HASH_FIELD_NUMBER: _ClassVar[int]
    AGE_BAND_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SCORE_BAND_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    phone_hash: str
    age_band: str
    region: str
    score_band: str
    requested_amount: _types_pb2.Money
    tier: str
    term_months: int
    def __init__(self, phone_hash: _Optional[str] = ..., age_band: _Optional[str] = ..., region: _Optional[str] = ..., score_band: _Optional[str] = ..., requested_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., tier: _Optional[str] = ..., term_months: _Optional[int] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("ping_id", "applicant")
    PING_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    ping_id: str
    applicant: MaskedApplicant
    def __init__(self, ping_id: _Optional[str] = ..., applicant: _Optional[_Union[MaskedApplicant, _Mapping]] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("bid_offered", "bid", "known_applicant")
    BID_OFFERED_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    KNOWN_APPLICANT_FIELD_NUMBER: _ClassVar[int]
    bid_offered: bool
    bid: _types_pb2.Money
    known_applicant: bool
    def __init__(self, bid_offered: _Optional[bool] = ..., bid: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., known_applicant: _Optional[bool] = ...) -> None: ...

class PostRequest(_message.Message):
    __slots__ = ("idempotency_key", "lead_id", "applicant_ref", "applicant", "price", "source_channel")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_REF_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    lead_id: str
    applicant_ref: _types_pb2.CustomerRef
    applicant: MaskedApplicant
    price: _types_pb2.Money
    source_channel: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., lead_id: _Optional[str] = ..., applicant_ref: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., applicant: _Optional[_Union[MaskedApplicant, _Mapping]] = ..., price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., source_channel: _Optional[str] = ...) -> None: ...

class PostResponse(_message.Message):
    __slots__ = ("result", "reason", "partner_reference")
    class Result(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESULT_UNSPECIFIED: _ClassVar[PostResponse.Result]
        ACCEPTED: _ClassVar[PostResponse.Result]
        REJECTED: _ClassVar[PostResponse.Result]
    RESULT_UNSPECIFIED: PostResponse.Result
    ACCEPTED: PostResponse.Result
    REJECTED: PostResponse.Result
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PARTNER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    result: PostResponse.Result
    reason: str
    partner_reference: str
    def __init__(self, result: _Optional[_Union[PostResponse.Result, str]] = ..., reason: _Optional[str] = ..., partner_reference: _Optional[str] = ...) -> None: ...
