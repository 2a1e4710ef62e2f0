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

class Destination(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESTINATION_UNSPECIFIED: _ClassVar[Destination]
    DESTINATION_IN_HOUSE: _ClassVar[Destination]
    DESTINATION_PARTNER_POOL: _ClassVar[Destination]
    DESTINATION_DECLINED: _ClassVar[Destination]

class PolicyArm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_ARM_UNSPECIFIED: _ClassVar[PolicyArm]
    POLICY_ARM_CHAMPION: _ClassVar[PolicyArm]
    POLICY_ARM_CANDIDATE: _ClassVar[PolicyArm]

class CandidateMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANDIDATE_MODE_UNSPECIFIED: _ClassVar[CandidateMode]
    CANDIDATE_MODE_SHADOW: _ClassVar[CandidateMode]
    CANDIDATE_MODE_ROLLOUT: _ClassVar[CandidateMode]

class PartnerRoutingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTNER_ROUTING_STATUS_UNSPECIFIED: _ClassVar[PartnerRoutingStatus]
    PARTNER_ROUTING_STATUS_PENDING_SELECTION: _ClassVar[PartnerRoutingStatus]
    PARTNER_ROUTING_STATUS_OFFERED: _ClassVar[PartnerRoutingStatus]
    PARTNER_ROUTING_STATUS_DELIVERED: _ClassVar[PartnerRoutingStatus]
    PARTNER_ROUTING_STATUS_NO_BIDDER: _ClassVar[PartnerRoutingStatus]
DESTINATION_UNSPECIFIED: Destination
DESTINATION_IN_HOUSE: Destination
DESTINATION_PARTNER_POOL: Destination
DESTINATION_DECLINED: Destination
POLICY_ARM_UNSPECIFIED: PolicyArm
POLICY_ARM_CHAMPION: PolicyArm
POLICY_ARM_CANDIDATE: PolicyArm
CANDIDATE_MODE_UNSPECIFIED: CandidateMode
CANDIDATE_MODE_SHADOW: CandidateMode
CANDIDATE_MODE_ROLLOUT: CandidateMode
PARTNER_ROUTING_STATUS_UNSPECIFIED: PartnerRoutingStatus
PARTNER_ROUTING_STATUS_PENDING_SELECTION: PartnerRoutingStatus
PARTNER_ROUTING_STATUS_OFFERED: PartnerRoutingStatus
PARTNER_ROUTING_STATUS_DELIVERED: PartnerRoutingStatus
PARTNER_ROUTING_STATUS_NO_BIDDER: PartnerRoutingStatus

class TagValue(_message.Message):
    __slots__ = ("int_value", "number_value", "string_value", "bool_value")
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    int_value: int
    number_value: float
    string_value: str
    bool_value: bool
    def __init__(self, int_value: _Optional[int] = ..., number_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class ConsentRecord(_message.Message):
    __slots__ = ("recipient_ids", "recipient_classes", "purposes", "granted_at", "expires_at")
    RECIPIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_CLASSES_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    recipient_ids: _containers.RepeatedScalarFieldContainer[str]
    recipient_classes: _containers.RepeatedScalarFieldContainer[str]
    purposes: _containers.RepeatedScalarFieldContainer[str]
    granted_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, recipient_ids: _Optional[_Iterable[str]] = ..., recipient_classes: _Optional[_Iterable[str]] = ..., purposes: _Optional[_Iterable[str]] = ..., granted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RouteApplicantRequest(_message.Message):
    __slots__ = ("idempotency_key", "channel", "scenario", "applicant", "device_ref", "phone_hash", "consents", "tags", "requested_amount", "term_months")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TagValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TagValue, _Mapping]] = ...) -> None: ...
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_REF_FIELD_NUMBER: _ClassVar[int]
    PHONE_HASH_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TERM_MONTHS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    channel: str
    scenario: str
    applicant: _types_pb2.CustomerRef
    device_ref: str
    phone_hash: str
    consents: _containers.RepeatedCompositeFieldContainer[ConsentRecord]
    tags: _containers.MessageMap[str, TagValue]
    requested_amount: _types_pb2.Money
    term_months: int
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., channel: _Optional[str] = ..., scenario: _Optional[str] = ..., applicant: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., device_ref: _Optional[str] = ..., phone_hash: _Optional[str] = ..., consents: _Optional[_Iterable[_Union[ConsentRecord, _Mapping]]] = ..., tags: _Optional[_Mapping[str, TagValue]] = ..., requested_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., term_months: _Optional[int] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PartnerRouting(_message.Message):
    __slots__ = ("lead_id", "partner_id", "price", "status")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    partner_id: str
    price: _types_pb2.Money
    status: PartnerRoutingStatus
    def __init__(self, lead_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., price: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PartnerRoutingStatus, str]] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("decision_id", "tier", "score", "destination", "product_id", "reasons", "config_version", "policy_version", "arm", "decided_at", "sticky", "partner", "channel")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    STICKY_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    tier: str
    score: int
    destination: Destination
    product_id: str
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    config_version: str
    policy_version: str
    arm: PolicyArm
    decided_at: _timestamp_pb2.Timestamp
    sticky: bool
    partner: PartnerRouting
    channel: str
    def __init__(self, decision_id: _Optional[str] = ..., tier: _Optional[str] = ..., score: _Optional[int] = ..., destination: _Optional[_Union[Destination, str]] = ..., product_id: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., config_version: _Optional[str] = ..., policy_version: _Optional[str] = ..., arm: _Optional[_Union[PolicyArm, str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sticky: _Optional[bool] = ..., partner: _Optional[_Union[PartnerRouting, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class RecordLoanDrawnRequest(_message.Message):
    __slots__ = ("idempotency_key", "decision_id", "amount", "drawn_at")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    decision_id: str
    amount: _types_pb2.Money
    drawn_at: _timestamp_pb2.Timestamp
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., decision_id: _Optional[str] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., drawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordLoanDrawnResponse(_message.Message):
    __slots__ = ("decision_id", "recorded", "amount", "product_id")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    recorded: bool
    amount: _types_pb2.Money
    product_id: str
    def __init__(self, decision_id: _Optional[str] = ..., recorded: _Optional[bool] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., product_id: _Optional[str] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class RecordedDecision(_message.Message):
    __slots__ = ("decision", "inputs_json", "shadow")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    decision: RoutingDecision
    inputs_json: str
    shadow: RoutingDecision
    def __init__(self, decision: _Optional[_Union[RoutingDecision, _Mapping]] = ..., inputs_json: _Optional[str] = ..., shadow: _Optional[_Union[RoutingDecision, _Mapping]] = ...) -> None: ...

class ListPolicyVersionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PolicyVersionInfo(_message.Message):
    __slots__ = ("version", "role", "source", "first_seen_at", "acted", "shadowed", "agreed", "agreement", "acted_by_destination", "fallbacks")
    class ActedByDestinationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    ACTED_FIELD_NUMBER: _ClassVar[int]
    SHADOWED_FIELD_NUMBER: _ClassVar[int]
    AGREED_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    ACTED_BY_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    version: str
    role: str
    source: str
    first_seen_at: _timestamp_pb2.Timestamp
    acted: int
    shadowed: int
    agreed: int
    agreement: float
    acted_by_destination: _containers.ScalarMap[str, int]
    fallbacks: int
    def __init__(self, version: _Optional[str] = ..., role: _Optional[str] = ..., source: _Optional[str] = ..., first_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acted: _Optional[int] = ..., shadowed: _Optional[int] = ..., agreed: _Optional[int] = ..., agreement: _Optional[float] = ..., acted_by_destination: _Optional[_Mapping[str, int]] = ..., fallbacks: _Optional[int] = ...) -> None: ...

class PolicyHistoryEntry(_message.Message):
    __slots__ = ("at", "action", "champion_version", "candidate_version", "mode", "share")
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    action: str
    champion_version: str
    candidate_version: str
    mode: CandidateMode
    share: float
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ..., champion_version: _Optional[str] = ..., candidate_version: _Optional[str] = ..., mode: _Optional[_Union[CandidateMode, str]] = ..., share: _Optional[float] = ...) -> None: ...

class ListPolicyVersionsResponse(_message.Message):
    __slots__ = ("versions", "history", "state")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[PolicyVersionInfo]
    history: _containers.RepeatedCompositeFieldContainer[PolicyHistoryEntry]
    state: PolicyState
    def __init__(self, versions: _Optional[_Iterable[_Union[PolicyVersionInfo, _Mapping]]] = ..., history: _Optional[_Iterable[_Union[PolicyHistoryEntry, _Mapping]]] = ..., state: _Optional[_Union[PolicyState, _Mapping]] = ...) -> None: ...

class PolicyState(_message.Message):
    __slots__ = ("champion_version", "candidate_version", "mode", "share", "config_version")
    CHAMPION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    champion_version: str
    candidate_version: str
    mode: CandidateMode
    share: float
    config_version: str
    def __init__(self, champion_version: _Optional[str] = ..., candidate_version: _Optional[str] = ..., mode: _Optional[_Union[CandidateMode, str]] = ..., share: _Optional[float] = ..., config_version: _Optional[str] = ...) -> None: ...

class ActivatePolicyVersionRequest(_message.Message):
    __slots__ = ("idempotency_key", "version")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    version: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., version: _Optional[str] = ...) -> None: ...

class RollbackPolicyRequest(_message.Message):
    __slots__ = ("idempotency_key",)
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ...) -> None: ...

class SetCandidateRequest(_message.Message):
    __slots__ = ("idempotency_key", "version", "config_yaml", "mode", "share")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_YAML_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    version: str
    config_yaml: str
    mode: CandidateMode
    share: float
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., version: _Optional[str] = ..., config_yaml: _Optional[str] = ..., mode: _Optional[_Union[CandidateMode, str]] = ..., share: _Optional[float] = ...) -> None: ...

class WhatIfRequest(_message.Message):
    __slots__ = ("window", "version", "config_yaml", "max_samples")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_YAML_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    window: _types_pb2.TimeWindow
    version: str
    config_yaml: str
    max_samples: int
    def __init__(self, window: _Optional[_Union[_types_pb2.TimeWindow, _Mapping]] = ..., version: _Optional[str] = ..., config_yaml: _Optional[str] = ..., max_samples: _Optional[int] = ...) -> None: ...

class DecisionMix(_message.Message):
    __slots__ = ("by_tier", "by_destination")
    class ByTierEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByDestinationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BY_TIER_FIELD_NUMBER: _ClassVar[int]
    BY_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    by_tier: _containers.ScalarMap[str, int]
    by_destination: _containers.ScalarMap[str, int]
    def __init__(self, by_tier: _Optional[_Mapping[str, int]] = ..., by_destination: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ChangedDecision(_message.Message):
    __slots__ = ("decision_id", "tier_before", "tier_after", "destination_before", "destination_after", "score_before", "score_after", "reasons_before", "reasons_after")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TIER_AFTER_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_BEFORE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_AFTER_FIELD_NUMBER: _ClassVar[int]
    SCORE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    SCORE_AFTER_FIELD_NUMBER: _ClassVar[int]
    REASONS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_AFTER_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    tier_before: str
    tier_after: str
    destination_before: Destination
    destination_after: Destination
    score_before: int
    score_after: int
    reasons_before: _containers.RepeatedCompositeFieldContainer[Reason]
    reasons_after: _containers.RepeatedCompositeFieldContainer[Reason]
    def __init__(self, decision_id: _Optional[str] = ..., tier_before: _Optional[str] = ..., tier_after: _Optional[str] = ..., destination_before: _Optional[_Union[Destination, str]] = ..., destination_after: _Optional[_Union[Destination, str]] = ..., score_before: _Optional[int] = ..., score_after: _Optional[int] = ..., reasons_before: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., reasons_after: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ...) -> None: ...

class WhatIfResponse(_message.Message):
    __slots__ = ("candidate_version", "replayed", "before", "after", "changed", "samples")
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    candidate_version: str
    replayed: int
    before: DecisionMix
    after: DecisionMix
    changed: int
    samples: _containers.RepeatedCompositeFieldContainer[ChangedDecision]
    def __init__(self, candidate_version: _Optional[str] = ..., replayed: _Optional[int] = ..., before: _Optional[_Union[DecisionMix, _Mapping]] = ..., after: _Optional[_Union[DecisionMix, _Mapping]] = ..., changed: _Optional[int] = ..., samples: _Optional[_Iterable[_Union[ChangedDecision, _Mapping]]] = ...) -> None: ...

class GetRoutingReportRequest(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: _types_pb2.TimeWindow
    def __init__(self, window: _Optional[_Union[_types_pb2.TimeWindow, _Mapping]] = ...) -> None: ...

class CountShare(_message.Message):
    __slots__ = ("key", "count", "share")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    share: float
    def __init__(self, key: _Optional[str] = ..., count: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class CapacityUse(_message.Message):
    __slots__ = ("day", "product_id", "used", "cap")
    DAY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    day: str
    product_id: str
    used: int
    cap: int
    def __init__(self, day: _Optional[str] = ..., product_id: _Optional[str] = ..., used: _Optional[int] = ..., cap: _Optional[int] = ...) -> None: ...

class RoutingReport(_message.Message):
    __slots__ = ("total", "by_tier", "by_destination", "by_channel", "by_day", "capacity", "sticky_repeats")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_TIER_FIELD_NUMBER: _ClassVar[int]
    BY_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    BY_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BY_DAY_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    STICKY_REPEATS_FIELD_NUMBER: _ClassVar[int]
    total: int
    by_tier: _containers.RepeatedCompositeFieldContainer[CountShare]
    by_destination: _containers.RepeatedCompositeFieldContainer[CountShare]
    by_channel: _containers.RepeatedCompositeFieldContainer[CountShare]
    by_day: _containers.RepeatedCompositeFieldContainer[CountShare]
    capacity: _containers.RepeatedCompositeFieldContainer[CapacityUse]
    sticky_repeats: int
    def __init__(self, total: _Optional[int] = ..., by_tier: _Optional[_Iterable[_Union[CountShare, _Mapping]]] = ..., by_destination: _Optional[_Iterable[_Union[CountShare, _Mapping]]] = ..., by_channel: _Optional[_Iterable[_Union[CountShare, _Mapping]]] = ..., by_day: _Optional[_Iterable[_Union[CountShare, _Mapping]]] = ..., capacity: _Optional[_Iterable[_Union[CapacityUse, _Mapping]]] = ..., sticky_repeats: _Optional[int] = ...) -> None: ...
