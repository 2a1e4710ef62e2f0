"""Tables of the rewards database.

Counters that must never overshoot (budgets, daily budgets, contact caps, claims per customer) live in
rows that are changed by one conditional UPDATE inside the transaction of their effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime
from services.common.event_schema import event_tables
from services.common.idempotency import idempotency_table
from services.common.replica_share import replica_table


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


idempotency_keys = idempotency_table(Base.metadata)
# The outbox of rewards events and the consumer and ingest tables (services/common/event_schema.py).
event_tables(Base.metadata)
replica_table(Base.metadata)


class Contact(Base):
    """Per-customer contact ledger across all campaigns: opt-out, the last local day touched and the touches
    of the 7 local days ending with it, newest first (services/rewards/domain/contact.py)."""

    __tablename__ = "contacts"
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    day_key: Mapped[str] = mapped_column(String(16), default="")
    recent: Mapped[str] = mapped_column(String(64), default="")


class Assignment(Base):
    """A customer's recorded group in a campaign (stable) and what we measure about them."""

    __tablename__ = "assignments"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    grp: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime]
    claims: Mapped[int] = mapped_column(Integer, default=0)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class Decision(Base):
    """Every Offer answer and every fallback offer, with its propensity, λ and config version."""

    __tablename__ = "decisions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    customer_ref: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str] = mapped_column(String(64))
    arm_id: Mapped[str] = mapped_column(String(64), default="")
    propensity: Mapped[float] = mapped_column(Float, default=1.0)
    lam: Mapped[float] = mapped_column(Float, default=0.0)
    config_version: Mapped[str] = mapped_column(String(32))
    claim_by: Mapped[datetime | None]
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    # The coupon's terms as offered, so a claim issues what the customer was shown whatever the config says
    # by then; NULL on decisions that offered nothing (and on offers recorded before the terms were kept).
    threshold_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    discount_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    validity_days: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_decisions_customer", "customer_ref", "campaign_id"),
        Index("ix_decisions_campaign", "campaign_id", "outcome"),
    )


class Coupon(Base):
    __tablename__ = "coupons"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    customer_ref: Mapped[str] = mapped_column(String(128))
    decision_id: Mapped[str] = mapped_column(String(32), unique=True)
    arm_id: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(64))
    threshold_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    validity_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime]
    claim_day: Mapped[str] = mapped_column(String(16))  # the daily-budget row the reservation sits in
    valid_until: Mapped[datetime]
    order_id: Mapped[str | None] = mapped_column(String(128))
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_sent: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_coupons_state_valid", "state", "valid_until"),
        Index("ix_coupons_customer", "customer_ref", "campaign_id"),
    )


class Redemption(Base):
    __tablename__ = "redemptions"
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    coupon_id: Mapped[str] = mapped_column(String(32), index=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    customer_ref: Mapped[str] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    redeemed_at: Mapped[datetime]
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)


class Payment(Base):
    """Payments without a coupon (RecordPayment), deduplicated by order id."""

    __tablename__ = "payments"
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), index=True)
    scene: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime]


class CampaignBudget(Base):
    __tablename__ = "campaign_budgets"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reserved_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetDay(Base):
    """Reserved + spent of the coupons claimed on one local day (the daily budget's counter)."""

    __tablename__ = "budget_days"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    committed_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class PolicyStateRow(Base):
    """λ per campaign, flushed periodically; posteriors are rebuilt from decisions at start."""

    __tablename__ = "policy_state"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lam: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]


class CustomerInputs(Base):
    """What the peers say about a customer, kept from their event streams (services/rewards/service/peer_events.py):
    the growth level and the router's latest risk verdict. Each value keeps the stream position it came
    from and only moves forward, so a replayed or late event never puts an older value back."""

    __tablename__ = "customer_inputs"
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    growth_level: Mapped[str | None] = mapped_column(String(64))
    growth_position: Mapped[int] = mapped_column(BigInteger, default=0)
    growth_at: Mapped[datetime | None]
    risk_tier: Mapped[str | None] = mapped_column(String(64))  # e.g. prime, tail, declined
    risk_destination: Mapped[str | None] = mapped_column(String(16))  # IN_HOUSE, PARTNER_POOL, DECLINED
    risk_reasons: Mapped[str | None] = mapped_column(String(512))  # reason codes, comma-separated
    risk_position: Mapped[int] = mapped_column(BigInteger, default=0)
    risk_at: Mapped[datetime | None]


class TouchFate(Base):
    """What became of one touch a pass tried to make (a fallback wave): TOUCHED, or DEFERRED with the
    reason while it waits for room under the contact policy, and how many passes deferred it."""

    __tablename__ = "touch_fates"
    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touch_key: Mapped[str] = mapped_column(String(96), primary_key=True)  # e.g. fallback/<coupon>/<wave>
    source: Mapped[str] = mapped_column(String(16))
    customer_ref: Mapped[str] = mapped_column(String(128))
    fate: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32), default="")
    deferrals: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Journey(Base):
    """A customer in one trigger's journey (services/rewards/service/journeys.py): the latest entry's
    state, its holdout group (the campaign's, recorded once, so it survives re-entry) and its touch."""

    __tablename__ = "journeys"
    trigger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    grp: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # ACTIVE (touch pending), DONE, EXITED, SCREENED
    entries: Mapped[int] = mapped_column(Integer, default=0)
    entered_at: Mapped[datetime]
    due_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    touch: Mapped[str] = mapped_column(String(24), default="")  # PENDING, DEFERRED, TOUCHED, WOULD_HAVE_TOUCHED …
    decision_id: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_journeys_due", "state", "due_at"),
        Index("ix_journeys_customer", "customer_ref", "state"),
    )


class JourneyStep(Base):
    """One step of one entry of a journey (ENTERED, SCREENED, HELD_OUT, TOUCHED, WOULD_HAVE_TOUCHED,
    DEFERRED, ROUTED, FOLLOW_UP, EXITED, REENTRY_BLOCKED): the funnel's record, once per entry and step."""

    __tablename__ = "journey_steps"
    trigger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    entry: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(24), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(String(96), default="")


class RiskFlag(Base):
    """The latest outside risk flag of a customer by type (a trigger's risk screen reads it)."""

    __tablename__ = "risk_flags"
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    flag: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]
