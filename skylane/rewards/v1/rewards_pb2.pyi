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

class OfferOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFER_OUTCOME_UNSPECIFIED: _ClassVar[OfferOutcome]
    OFFERED: _ClassVar[OfferOutcome]
    HOLDOUT: _ClassVar[OfferOutcome]
    NOT_OFFERED: _ClassVar[OfferOutcome]

class CouponState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COUPON_STATE_UNSPECIFIED: _ClassVar[CouponState]
    CLAIMED: _ClassVar[CouponState]
    REDEEMED: _ClassVar[CouponState]
    EXPIRED: _ClassVar[CouponState]
OFFER_OUTCOME_UNSPECIFIED: OfferOutcome
OFFERED: OfferOutcome
HOLDOUT: OfferOutcome
NOT_OFFERED: OfferOutcome
COUPON_STATE_UNSPECIFIED: CouponState
CLAIMED: CouponState
REDEEMED: CouponState
EXPIRED: CouponState

class CustomerProfile(_message.Message):
    __slots__ = ("asset_tier", "age", "payment_interests", "channel", "monthly_payment_count", "monthly_payment_amount")
    ASSET_TIER_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INTERESTS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    asset_tier: str
    age: int
    payment_interests: _containers.RepeatedScalarFieldContainer[str]
    channel: str
    monthly_payment_count: int
    monthly_payment_amount: _types_pb2.Money
    def __init__(self, asset_tier: _Optional[str] = ..., age: _Optional[int] = ..., payment_interests: _Optional[_Iterable[str]] = ..., channel: _Optional[str] = ..., monthly_payment_count: _Optional[int] = ..., monthly_payment_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class OfferRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "scene", "merchant_id", "campaign_id", "profile")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    scene: str
    merchant_id: str
    campaign_id: str
    profile: CustomerProfile
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., scene: _Optional[str] = ..., merchant_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., profile: _Optional[_Union[CustomerProfile, _Mapping]] = ...) -> None: ...

class Arm(_message.Message):
    __slots__ = ("id", "threshold", "discount", "validity_days")
    ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    threshold: _types_pb2.Money
    discount: _types_pb2.Money
    validity_days: int
    def __init__(self, id: _Optional[str] = ..., threshold: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., discount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., validity_days: _Optional[int] = ...) -> None: ...

class ArmScore(_message.Message):
    __slots__ = ("arm_id", "response", "incremental_value_fen", "expected_cost_fen", "score")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_COST_FEN_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    response: float
    incremental_value_fen: float
    expected_cost_fen: float
    score: float
    def __init__(self, arm_id: _Optional[str] = ..., response: _Optional[float] = ..., incremental_value_fen: _Optional[float] = ..., expected_cost_fen: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class OfferResponse(_message.Message):
    __slots__ = ("offer_id", "outcome", "reason", "campaign_id", "arm", "propensity", "segment", "baseline_response", "scores", "claim_by", "config_version", "unmet_conditions")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    BASELINE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CLAIM_BY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    UNMET_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    outcome: OfferOutcome
    reason: str
    campaign_id: str
    arm: Arm
    propensity: float
    segment: str
    baseline_response: float
    scores: _containers.RepeatedCompositeFieldContainer[ArmScore]
    claim_by: _timestamp_pb2.Timestamp
    config_version: str
    unmet_conditions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, offer_id: _Optional[str] = ..., outcome: _Optional[_Union[OfferOutcome, str]] = ..., reason: _Optional[str] = ..., campaign_id: _Optional[str] = ..., arm: _Optional[_Union[Arm, _Mapping]] = ..., propensity: _Optional[float] = ..., segment: _Optional[str] = ..., baseline_response: _Optional[float] = ..., scores: _Optional[_Iterable[_Union[ArmScore, _Mapping]]] = ..., claim_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., config_version: _Optional[str] = ..., unmet_conditions: _Optional[_Iterable[str]] = ..., **kwargs) -> None: ...

class ClaimRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "offer_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    offer_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., offer_id: _Optional[str] = ...) -> None: ...

class Coupon(_message.Message):
    __slots__ = ("coupon_id", "campaign_id", "customer", "arm", "state", "claimed_at", "valid_until", "offer_id")
    COUPON_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    coupon_id: str
    campaign_id: str
    customer: _types_pb2.CustomerRef
    arm: Arm
    state: CouponState
    claimed_at: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    offer_id: str
    def __init__(self, coupon_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., arm: _Optional[_Union[Arm, _Mapping]] = ..., state: _Optional[_Union[CouponState, str]] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offer_id: _Optional[str] = ...) -> None: ...

class ClaimResponse(_message.Message):
    __slots__ = ("coupon",)
    COUPON_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ...) -> None: ...

class RedeemRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "coupon_id", "order_id", "order_amount", "scene", "merchant_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    COUPON_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    coupon_id: str
    order_id: str
    order_amount: _types_pb2.Money
    scene: str
    merchant_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., coupon_id: _Optional[str] = ..., order_id: _Optional[str] = ..., order_amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., scene: _Optional[str] = ..., merchant_id: _Optional[str] = ...) -> None: ...

class RedeemResponse(_message.Message):
    __slots__ = ("order_id", "coupon", "discount", "amount_due")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    coupon: Coupon
    discount: _types_pb2.Money
    amount_due: _types_pb2.Money
    def __init__(self, order_id: _Optional[str] = ..., coupon: _Optional[_Union[Coupon, _Mapping]] = ..., discount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., amount_due: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class RefundOrderRequest(_message.Message):
    __slots__ = ("idempotency_key", "order_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    order_id: str
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., order_id: _Optional[str] = ...) -> None: ...

class RefundOrderResponse(_message.Message):
    __slots__ = ("coupon", "restored")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    restored: _types_pb2.Money
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ..., restored: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class RecordPaymentRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "scene", "merchant_id", "order_id", "amount")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    scene: str
    merchant_id: str
    order_id: str
    amount: _types_pb2.Money
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., scene: _Optional[str] = ..., merchant_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class RecordPaymentResponse(_message.Message):
    __slots__ = ("campaign_ids", "recorded")
    CAMPAIGN_IDS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    campaign_ids: _containers.RepeatedScalarFieldContainer[str]
    recorded: bool
    def __init__(self, campaign_ids: _Optional[_Iterable[str]] = ..., recorded: _Optional[bool] = ...) -> None: ...

class SetOptOutRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "opted_out")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: _types_pb2.IdempotencyKey
    customer: _types_pb2.CustomerRef
    opted_out: bool
    def __init__(self, idempotency_key: _Optional[_Union[_types_pb2.IdempotencyKey, _Mapping]] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., opted_out: _Optional[bool] = ...) -> None: ...

class SetOptOutResponse(_message.Message):
    __slots__ = ("opted_out",)
    OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    opted_out: bool
    def __init__(self, opted_out: _Optional[bool] = ...) -> None: ...

class GetCampaignReportRequest(_message.Message):
    __slots__ = ("campaign_id",)
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    def __init__(self, campaign_id: _Optional[str] = ...) -> None: ...

class FunnelRow(_message.Message):
    __slots__ = ("arm_id", "segment", "offers", "claims", "redemptions", "gmv", "spend")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    REDEMPTIONS_FIELD_NUMBER: _ClassVar[int]
    GMV_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    segment: str
    offers: int
    claims: int
    redemptions: int
    gmv: _types_pb2.Money
    spend: _types_pb2.Money
    def __init__(self, arm_id: _Optional[str] = ..., segment: _Optional[str] = ..., offers: _Optional[int] = ..., claims: _Optional[int] = ..., redemptions: _Optional[int] = ..., gmv: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., spend: _Optional[_Union[_types_pb2.Money, _Mapping]] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("estimate", "low", "high", "defined")
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    DEFINED_FIELD_NUMBER: _ClassVar[int]
    estimate: float
    low: float
    high: float
    defined: bool
    def __init__(self, estimate: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., defined: _Optional[bool] = ...) -> None: ...

class GroupOutcome(_message.Message):
    __slots__ = ("customers", "payment_active", "payment_active_rate", "value_per_customer_fen")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ACTIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_PER_CUSTOMER_FEN_FIELD_NUMBER: _ClassVar[int]
    customers: int
    payment_active: int
    payment_active_rate: float
    value_per_customer_fen: float
    def __init__(self, customers: _Optional[int] = ..., payment_active: _Optional[int] = ..., payment_active_rate: _Optional[float] = ..., value_per_customer_fen: _Optional[float] = ...) -> None: ...

class Uplift(_message.Message):
    __slots__ = ("treated", "holdout", "active_rate_ratio", "active_rate_difference", "value_ratio", "value_difference_fen")
    TREATED_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_RATE_RATIO_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_RATE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_RATIO_FIELD_NUMBER: _ClassVar[int]
    VALUE_DIFFERENCE_FEN_FIELD_NUMBER: _ClassVar[int]
    treated: GroupOutcome
    holdout: GroupOutcome
    active_rate_ratio: Interval
    active_rate_difference: Interval
    value_ratio: Interval
    value_difference_fen: Interval
    def __init__(self, treated: _Optional[_Union[GroupOutcome, _Mapping]] = ..., holdout: _Optional[_Union[GroupOutcome, _Mapping]] = ..., active_rate_ratio: _Optional[_Union[Interval, _Mapping]] = ..., active_rate_difference: _Optional[_Union[Interval, _Mapping]] = ..., value_ratio: _Optional[_Union[Interval, _Mapping]] = ..., value_difference_fen: _Optional[_Union[Interval, _Mapping]] = ...) -> None: ...

class CampaignReport(_message.Message):
    __slots__ = ("campaign_id", "budget_total", "budget_daily", "spent", "reserved", "today_committed", "funnel", "uplift", "config_version", "contact_fates", "journeys")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGET_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DAILY_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    TODAY_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    FUNNEL_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FATES_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    budget_total: _types_pb2.Money
    budget_daily: _types_pb2.Money
    spent: _types_pb2.Money
    reserved: _types_pb2.Money
    today_committed: _types_pb2.Money
    funnel: _containers.RepeatedCompositeFieldContainer[FunnelRow]
    uplift: Uplift
    config_version: str
    contact_fates: _containers.RepeatedCompositeFieldContainer[ContactFate]
    journeys: _containers.RepeatedCompositeFieldContainer[JourneyFunnel]
    def __init__(self, campaign_id: _Optional[str] = ..., budget_total: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., budget_daily: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., spent: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., reserved: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., today_committed: _Optional[_Union[_types_pb2.Money, _Mapping]] = ..., funnel: _Optional[_Iterable[_Union[FunnelRow, _Mapping]]] = ..., uplift: _Optional[_Union[Uplift, _Mapping]] = ..., config_version: _Optional[str] = ..., contact_fates: _Optional[_Iterable[_Union[ContactFate, _Mapping]]] = ..., journeys: _Optional[_Iterable[_Union[JourneyFunnel, _Mapping]]] = ..., **kwargs) -> None: ...

class JourneyFunnel(_message.Message):
    __slots__ = ("trigger_id", "wave", "treated", "holdout", "screened", "reentry_blocked", "exited", "deferred", "routed", "follow_up", "converted_rate_difference", "median_hours_to_touch", "median_hours_touch_to_claim", "median_hours_claim_to_redeem")
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    SCREENED_FIELD_NUMBER: _ClassVar[int]
    REENTRY_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_FIELD_NUMBER: _ClassVar[int]
    ROUTED_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_RATE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_HOURS_TO_TOUCH_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_HOURS_TOUCH_TO_CLAIM_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_HOURS_CLAIM_TO_REDEEM_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    wave: int
    treated: JourneySteps
    holdout: JourneySteps
    screened: int
    reentry_blocked: int
    exited: int
    deferred: int
    routed: int
    follow_up: int
    converted_rate_difference: Interval
    median_hours_to_touch: float
    median_hours_touch_to_claim: float
    median_hours_claim_to_redeem: float
    def __init__(self, trigger_id: _Optional[str] = ..., wave: _Optional[int] = ..., treated: _Optional[_Union[JourneySteps, _Mapping]] = ..., holdout: _Optional[_Union[JourneySteps, _Mapping]] = ..., screened: _Optional[int] = ..., reentry_blocked: _Optional[int] = ..., exited: _Optional[int] = ..., deferred: _Optional[int] = ..., routed: _Optional[int] = ..., follow_up: _Optional[int] = ..., converted_rate_difference: _Optional[_Union[Interval, _Mapping]] = ..., median_hours_to_touch: _Optional[float] = ..., median_hours_touch_to_claim: _Optional[float] = ..., median_hours_claim_to_redeem: _Optional[float] = ...) -> None: ...

class JourneySteps(_message.Message):
    __slots__ = ("reached", "touched", "claimed", "redeemed", "next_product", "converted")
    REACHED_FIELD_NUMBER: _ClassVar[int]
    TOUCHED_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    NEXT_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_FIELD_NUMBER: _ClassVar[int]
    reached: int
    touched: int
    claimed: int
    redeemed: int
    next_product: int
    converted: int
    def __init__(self, reached: _Optional[int] = ..., touched: _Optional[int] = ..., claimed: _Optional[int] = ..., redeemed: _Optional[int] = ..., next_product: _Optional[int] = ..., converted: _Optional[int] = ...) -> None: ...

class ContactFate(_message.Message):
    __slots__ = ("source", "fate", "reason", "count", "deferrals")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DEFERRALS_FIELD_NUMBER: _ClassVar[int]
    source: str
    fate: str
    reason: str
    count: int
    deferrals: int
    def __init__(self, source: _Optional[str] = ..., fate: _Optional[str] = ..., reason: _Optional[str] = ..., count: _Optional[int] = ..., deferrals: _Optional[int] = ...) -> None: ...

class ListPendingOffersRequest(_message.Message):
    __slots__ = ("customer", "page")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customer: _types_pb2.CustomerRef
    page: _types_pb2.PageRequest
    def __init__(self, customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., page: _Optional[_Union[_types_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class PendingOffer(_message.Message):
    __slots__ = ("offer_id", "campaign_id", "arm", "reason", "wave", "offered_at", "claim_by")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    OFFERED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIM_BY_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    campaign_id: str
    arm: Arm
    reason: str
    wave: int
    offered_at: _timestamp_pb2.Timestamp
    claim_by: _timestamp_pb2.Timestamp
    def __init__(self, offer_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., arm: _Optional[_Union[Arm, _Mapping]] = ..., reason: _Optional[str] = ..., wave: _Optional[int] = ..., offered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claim_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPendingOffersResponse(_message.Message):
    __slots__ = ("offers", "page")
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[PendingOffer]
    page: _types_pb2.PageInfo
    def __init__(self, offers: _Optional[_Iterable[_Union[PendingOffer, _Mapping]]] = ..., page: _Optional[_Union[_types_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class PreviewTriggersRequest(_message.Message):
    __slots__ = ("config_yaml", "days", "list_entries")
    CONFIG_YAML_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    LIST_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    config_yaml: str
    days: int
    list_entries: bool
    def __init__(self, config_yaml: _Optional[str] = ..., days: _Optional[int] = ..., list_entries: _Optional[bool] = ...) -> None: ...

class DryRunTrigger(_message.Message):
    __slots__ = ("trigger_id", "campaign_id", "wave", "entered", "screened", "held_out", "touched", "would_have_touched", "deferred", "deferred_by_reason", "routed", "exited", "reentry_blocked", "follow_up", "waiting")
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    SCREENED_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_FIELD_NUMBER: _ClassVar[int]
    TOUCHED_FIELD_NUMBER: _ClassVar[int]
    WOULD_HAVE_TOUCHED_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    ROUTED_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    REENTRY_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    campaign_id: str
    wave: int
    entered: int
    screened: int
    held_out: int
    touched: int
    would_have_touched: int
    deferred: int
    deferred_by_reason: _containers.RepeatedCompositeFieldContainer[ReasonCount]
    routed: int
    exited: int
    reentry_blocked: int
    follow_up: int
    waiting: int
    def __init__(self, trigger_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., wave: _Optional[int] = ..., entered: _Optional[int] = ..., screened: _Optional[int] = ..., held_out: _Optional[int] = ..., touched: _Optional[int] = ..., would_have_touched: _Optional[int] = ..., deferred: _Optional[int] = ..., deferred_by_reason: _Optional[_Iterable[_Union[ReasonCount, _Mapping]]] = ..., routed: _Optional[int] = ..., exited: _Optional[int] = ..., reentry_blocked: _Optional[int] = ..., follow_up: _Optional[int] = ..., waiting: _Optional[int] = ...) -> None: ...

class ReasonCount(_message.Message):
    __slots__ = ("reason", "count")
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    count: int
    def __init__(self, reason: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class DisplacedTouches(_message.Message):
    __slots__ = ("source", "reason", "count")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    source: str
    reason: str
    count: int
    def __init__(self, source: _Optional[str] = ..., reason: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class TouchesPerDay(_message.Message):
    __slots__ = ("touches", "customer_days")
    TOUCHES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_DAYS_FIELD_NUMBER: _ClassVar[int]
    touches: int
    customer_days: int
    def __init__(self, touches: _Optional[int] = ..., customer_days: _Optional[int] = ...) -> None: ...

class DryRunEntry(_message.Message):
    __slots__ = ("trigger_id", "customer", "entry", "fate", "at", "local_day", "deferred_reasons")
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    FATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DAY_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_REASONS_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    customer: _types_pb2.CustomerRef
    entry: int
    fate: str
    at: _timestamp_pb2.Timestamp
    local_day: str
    deferred_reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trigger_id: _Optional[str] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., entry: _Optional[int] = ..., fate: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., local_day: _Optional[str] = ..., deferred_reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewTriggersResponse(_message.Message):
    __slots__ = ("since", "until", "events_replayed", "triggers", "displaced", "touches_per_customer_day", "max_touches_per_customer_day", "entries", "notes")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    DISPLACED_FIELD_NUMBER: _ClassVar[int]
    TOUCHES_PER_CUSTOMER_DAY_FIELD_NUMBER: _ClassVar[int]
    MAX_TOUCHES_PER_CUSTOMER_DAY_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    events_replayed: int
    triggers: _containers.RepeatedCompositeFieldContainer[DryRunTrigger]
    displaced: _containers.RepeatedCompositeFieldContainer[DisplacedTouches]
    touches_per_customer_day: _containers.RepeatedCompositeFieldContainer[TouchesPerDay]
    max_touches_per_customer_day: int
    entries: _containers.RepeatedCompositeFieldContainer[DryRunEntry]
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events_replayed: _Optional[int] = ..., triggers: _Optional[_Iterable[_Union[DryRunTrigger, _Mapping]]] = ..., displaced: _Optional[_Iterable[_Union[DisplacedTouches, _Mapping]]] = ..., touches_per_customer_day: _Optional[_Iterable[_Union[TouchesPerDay, _Mapping]]] = ..., max_touches_per_customer_day: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[DryRunEntry, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListFollowUpsRequest(_message.Message):
    __slots__ = ("since", "until", "campaign_id", "trigger_id", "page_size", "page_token")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    campaign_id: str
    trigger_id: str
    page_size: int
    page_token: str
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., campaign_id: _Optional[str] = ..., trigger_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class FollowUp(_message.Message):
    __slots__ = ("trigger_id", "campaign_id", "wave", "customer", "entry", "kind", "reason", "at", "time_zone", "local_day")
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    WAVE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DAY_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    campaign_id: str
    wave: int
    customer: _types_pb2.CustomerRef
    entry: int
    kind: str
    reason: str
    at: _timestamp_pb2.Timestamp
    time_zone: str
    local_day: str
    def __init__(self, trigger_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., wave: _Optional[int] = ..., customer: _Optional[_Union[_types_pb2.CustomerRef, _Mapping]] = ..., entry: _Optional[int] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., local_day: _Optional[str] = ...) -> None: ...

class ListFollowUpsResponse(_message.Message):
    __slots__ = ("follow_ups", "next_page_token")
    FOLLOW_UPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    follow_ups: _containers.RepeatedCompositeFieldContainer[FollowUp]
    next_page_token: str
    def __init__(self, follow_ups: _Optional[_Iterable[_Union[FollowUp, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
