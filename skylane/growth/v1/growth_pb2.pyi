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

class Asset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_UNSPECIFIED: _ClassVar[Asset]
    ASSET_POINTS: _ClassVar[Asset]
    ASSET_GROWTH: _ClassVar[Asset]
ASSET_UNSPECIFIED: Asset
ASSET_POINTS: Asset
ASSET_GROWTH: Asset

class Member(_message.Message):
    __slots__ = ("customer", "level", "enrolled_at", "referrer")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    level: str
    enrolled_at: _timestamp_pb2.Timestamp
    referrer: _types_pb2.CustomerRef
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., level: _Optional[str] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., referrer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class EnrollMemberRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "referrer")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    referrer: _types_pb2.CustomerRef
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., referrer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class Activity(_message.Message):
    __slots__ = ("source", "id", "type", "occurred_at", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    source: str
    id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, source: _Optional[str] = ..., id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RecordActivityRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "activity")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    activity: Activity
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class PreviewActivityRequest(_message.Message):
    __slots__ = ("customer", "activity")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    activity: Activity
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., activity: _Optional[_Union[Activity, _Mapping]] = ...) -> None: ...

class Award(_message.Message):
    __slots__ = ("task_id", "customer", "points", "growth", "kind", "pending", "hold_id", "transaction_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    GROWTH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    customer: _types_pb2.CustomerRef
    points: int
    growth: int
    kind: str
    pending: bool
    hold_id: str
    transaction_id: str
    def __init__(self, task_id: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points: _Optional[int] = ..., growth: _Optional[int] = ..., kind: _Optional[str] = ..., pending: _Optional[bool] = ..., hold_id: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class SkippedTask(_message.Message):
    __slots__ = ("task_id", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordActivityResponse(_message.Message):
    __slots__ = ("awards", "skipped", "duplicate", "config_version", "level", "dry_run")
    AWARDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    awards: _containers.RepeatedCompositeFieldContainer[Award]
    skipped: _containers.RepeatedCompositeFieldContainer[SkippedTask]
    duplicate: bool
    config_version: str
    level: str
    dry_run: bool
    def __init__(self, awards: _Optional[_Iterable[_Union[Award, _Mapping]]] = ..., skipped: _Optional[_Iterable[_Union[SkippedTask, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., config_version: _Optional[str] = ..., level: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("customer", "points_available", "points_held", "points_pending", "growth_total", "level")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    POINTS_HELD_FIELD_NUMBER: _ClassVar[int]
    POINTS_PENDING_FIELD_NUMBER: _ClassVar[int]
    GROWTH_TOTAL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    points_available: int
    points_held: int
    points_pending: int
    growth_total: int
    level: str
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points_available: _Optional[int] = ..., points_held: _Optional[int] = ..., points_pending: _Optional[int] = ..., growth_total: _Optional[int] = ..., level: _Optional[str] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("customer", "page")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    page: _types_pb2.PageRequest
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., page: _Optional[_Union[_types_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class Lot(_message.Message):
    __slots__ = ("id", "original", "remaining", "expires_at", "created_at", "transaction_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    original: int
    remaining: int
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    transaction_id: str
    def __init__(self, id: _Optional[str] = ..., original: _Optional[int] = ..., remaining: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("id", "customer", "points", "kind", "status", "expires_at", "on_timeout", "reason", "transaction_id", "closing_transaction_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ON_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSING_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer: _types_pb2.CustomerRef
    points: int
    kind: str
    status: str
    expires_at: _timestamp_pb2.Timestamp
    on_timeout: str
    reason: str
    transaction_id: str
    closing_transaction_id: str
    def __init__(self, id: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points: _Optional[int] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., on_timeout: _Optional[str] = ..., reason: _Optional[str] = ..., transaction_id: _Optional[str] = ..., closing_transaction_id: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("account", "asset", "amount", "lot_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    asset: Asset
    amount: int
    lot_id: str
    def __init__(self, account: _Optional[str] = ..., asset: _Optional[_Union[Asset, str]] = ..., amount: _Optional[int] = ..., lot_id: _Optional[str] = ...) -> None: ...

class LedgerTransaction(_message.Message):
    __slots__ = ("id", "kind", "customer", "points", "growth", "posted_at", "event_source", "event_id", "task_id", "config_version", "operator", "reason", "reverses", "entries")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    GROWTH_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVERSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    customer: _types_pb2.CustomerRef
    points: int
    growth: int
    posted_at: _timestamp_pb2.Timestamp
    event_source: str
    event_id: str
    task_id: str
    config_version: str
    operator: str
    reason: str
    reverses: str
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points: _Optional[int] = ..., growth: _Optional[int] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_source: _Optional[str] = ..., event_id: _Optional[str] = ..., task_id: _Optional[str] = ..., config_version: _Optional[str] = ..., operator: _Optional[str] = ..., reason: _Optional[str] = ..., reverses: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ...) -> None: ...

class LevelProgress(_message.Message):
    __slots__ = ("level", "earned_level", "window_growth", "next_level", "growth_to_next", "growth_to_keep", "next_review_at", "grace_until", "override_level", "override_until", "override_reason")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    EARNED_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_GROWTH_FIELD_NUMBER: _ClassVar[int]
    NEXT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    GROWTH_TO_NEXT_FIELD_NUMBER: _ClassVar[int]
    GROWTH_TO_KEEP_FIELD_NUMBER: _ClassVar[int]
    NEXT_REVIEW_AT_FIELD_NUMBER: _ClassVar[int]
    GRACE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    level: str
    earned_level: str
    window_growth: int
    next_level: str
    growth_to_next: int
    growth_to_keep: int
    next_review_at: _timestamp_pb2.Timestamp
    grace_until: _timestamp_pb2.Timestamp
    override_level: str
    override_until: _timestamp_pb2.Timestamp
    override_reason: str
    def __init__(self, level: _Optional[str] = ..., earned_level: _Optional[str] = ..., window_growth: _Optional[int] = ..., next_level: _Optional[str] = ..., growth_to_next: _Optional[int] = ..., growth_to_keep: _Optional[int] = ..., next_review_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., grace_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., override_level: _Optional[str] = ..., override_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., override_reason: _Optional[str] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ("balance", "lots", "holds", "level", "history", "page")
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    LOTS_FIELD_NUMBER: _ClassVar[int]
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    lots: _containers.RepeatedCompositeFieldContainer[Lot]
    holds: _containers.RepeatedCompositeFieldContainer[Hold]
    level: LevelProgress
    history: _containers.RepeatedCompositeFieldContainer[LedgerTransaction]
    page: _types_pb2.PageInfo
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ..., lots: _Optional[_Iterable[_Union[Lot, _Mapping]]] = ..., holds: _Optional[_Iterable[_Union[Hold, _Mapping]]] = ..., level: _Optional[_Union[LevelProgress, _Mapping]] = ..., history: _Optional[_Iterable[_Union[LedgerTransaction, _Mapping]]] = ..., page: _Optional[_Union[_types_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ListExpiriesRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class Expiry(_message.Message):
    __slots__ = ("expires_at", "points")
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    points: int
    def __init__(self, expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., points: _Optional[int] = ...) -> None: ...

class ListExpiriesResponse(_message.Message):
    __slots__ = ("expiries",)
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    expiries: _containers.RepeatedCompositeFieldContainer[Expiry]
    def __init__(self, expiries: _Optional[_Iterable[_Union[Expiry, _Mapping]]] = ...) -> None: ...

class SpendPointsRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "points", "reason")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    points: int
    reason: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class HoldPointsRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "points", "reason", "ttl_seconds")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    points: int
    reason: str
    ttl_seconds: int
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., points: _Optional[int] = ..., reason: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class ConfirmHoldRequest(_message.Message):
    __slots__ = ("idempotency_key", "hold_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    hold_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("idempotency_key", "hold_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    hold_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ListRightsRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class Right(_message.Message):
    __slots__ = ("id", "name", "category", "points_price", "min_level", "stock_left", "eligible", "ineligible_reason", "quota_left", "validity_days")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    POINTS_PRICE_FIELD_NUMBER: _ClassVar[int]
    MIN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    STOCK_LEFT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    QUOTA_LEFT_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    category: str
    points_price: int
    min_level: str
    stock_left: int
    eligible: bool
    ineligible_reason: str
    quota_left: int
    validity_days: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., points_price: _Optional[int] = ..., min_level: _Optional[str] = ..., stock_left: _Optional[int] = ..., eligible: _Optional[bool] = ..., ineligible_reason: _Optional[str] = ..., quota_left: _Optional[int] = ..., validity_days: _Optional[int] = ...) -> None: ...

class ListRightsResponse(_message.Message):
    __slots__ = ("rights",)
    RIGHTS_FIELD_NUMBER: _ClassVar[int]
    rights: _containers.RepeatedCompositeFieldContainer[Right]
    def __init__(self, rights: _Optional[_Iterable[_Union[Right, _Mapping]]] = ...) -> None: ...

class RedeemRightRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "right_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    right_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., right_id: _Optional[str] = ...) -> None: ...

class ConfirmRedemptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "redemption_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    redemption_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., redemption_id: _Optional[str] = ...) -> None: ...

class CancelRedemptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "redemption_id", "reason")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    redemption_id: str
    reason: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., redemption_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetRedemptionRequest(_message.Message):
    __slots__ = ("redemption_id",)
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    redemption_id: str
    def __init__(self, redemption_id: _Optional[str] = ...) -> None: ...

class Redemption(_message.Message):
    __slots__ = ("id", "customer", "right_id", "voucher_code", "points", "status", "hold_id", "valid_until", "created_at", "used_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    RIGHT_ID_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_CODE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    USED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer: _types_pb2.CustomerRef
    right_id: str
    voucher_code: str
    points: int
    status: str
    hold_id: str
    valid_until: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    used_by: str
    def __init__(self, id: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., right_id: _Optional[str] = ..., voucher_code: _Optional[str] = ..., points: _Optional[int] = ..., status: _Optional[str] = ..., hold_id: _Optional[str] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., used_by: _Optional[str] = ...) -> None: ...

class MarkVoucherUsedRequest(_message.Message):
    __slots__ = ("idempotency_key", "voucher_code", "supplier_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_CODE_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    voucher_code: str
    supplier_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., voucher_code: _Optional[str] = ..., supplier_id: _Optional[str] = ...) -> None: ...

class ReverseTransactionRequest(_message.Message):
    __slots__ = ("idempotency_key", "transaction_id", "reason", "operator")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    transaction_id: str
    reason: str
    operator: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., transaction_id: _Optional[str] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class SetLevelOverrideRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "level", "reason", "until", "operator")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    level: str
    reason: str
    until: _timestamp_pb2.Timestamp
    operator: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., level: _Optional[str] = ..., reason: _Optional[str] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., operator: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "limit", "customer")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    limit: int
    customer: _types_pb2.CustomerRef
    def __init__(self, after_sequence: _Optional[int] = ..., limit: _Optional[int] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ...) -> None: ...

class GrowthEvent(_message.Message):
    __slots__ = ("sequence", "type", "customer", "emitted_at", "data")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    EMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: str
    customer: _types_pb2.CustomerRef
    emitted_at: _timestamp_pb2.Timestamp
    data: _containers.ScalarMap[str, str]
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., emitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[GrowthEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[GrowthEvent, _Mapping]]] = ...) -> None: ...

class RunMaintenanceRequest(_message.Message):
    __slots__ = ("idempotency_key",)
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ...) -> None: ...

class RunMaintenanceResponse(_message.Message):
    __slots__ = ("lots_expired", "holds_timed_out", "warnings_emitted", "level_changes")
    LOTS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    HOLDS_TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_EMITTED_FIELD_NUMBER: _ClassVar[int]
    LEVEL_CHANGES_FIELD_NUMBER: _ClassVar[int]
    lots_expired: int
    holds_timed_out: int
    warnings_emitted: int
    level_changes: int
    def __init__(self, lots_expired: _Optional[int] = ..., holds_timed_out: _Optional[int] = ..., warnings_emitted: _Optional[int] = ..., level_changes: _Optional[int] = ...) -> None: ...
