"""Tables of the partner-lead side of the router (part of the router database and its migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.router.models import Base


class PartnerLead(Base):
    """One applicant's lead offered to the partner pool, with its ranked fallbacks and decision trace."""

    __tablename__ = "partner_leads"

    lead_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    decision_id: Mapped[str] = mapped_column(String(64), index=True)
    applicant_ref: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(40))
    source_channel: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(20))
    config_version: Mapped[str] = mapped_column(String(40))
    # PENDING (selection not run yet), OFFERED (a post is queued), POSTED (a partner accepted), UNSOLD.
    status: Mapped[str] = mapped_column(String(12), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(40), index=True)
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_amount_fen: Mapped[int] = mapped_column(BigInteger)
    # De-identified selection inputs (hashed refs, age, region, amount, consents) for late selection.
    applicant_json: Mapped[str] = mapped_column(Text, default="")
    masked_applicant: Mapped[str] = mapped_column(Text)  # serialized partner.v1.MaskedApplicant, base64
    fallbacks: Mapped[str] = mapped_column(Text)  # JSON [[partner_id, price_fen, ev], ...] best first
    trace: Mapped[str] = mapped_column(Text)  # JSON list of trace entries
    outcome: Mapped[int] = mapped_column(Integer, default=0)
    funded_amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_reason: Mapped[str] = mapped_column(String(120), default="")
    offer_expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class PartnerDelivery(Base):
    """The outbox: one row per (lead, partner) post, written in the decision's transaction."""

    __tablename__ = "partner_deliveries"
    __table_args__ = (
        UniqueConstraint("lead_id", "partner_id", name="uq_partner_deliveries_lead_partner"),
        Index("ix_partner_deliveries_due", "status", "next_attempt_at"),
    )

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # 0 = first choice, 1 = first fallback, ...
    price_fen: Mapped[int] = mapped_column(BigInteger)
    # PENDING, DELIVERED (accepted), REJECTED, DEAD (dead letter), EXPIRED.
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the row is next due; while an attempt runs it is pushed ahead as a lease.
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(String(300), default="")
    cap_keys: Mapped[str] = mapped_column(Text)  # JSON list of the cap windows reserved for this post
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dead_at: Mapped[datetime | None]


class PartnerCapUsage(Base):
    """Leads counted against one partner's cap in one calendar window: used = reserved + committed."""

    __tablename__ = "partner_cap_usage"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_key: Mapped[str] = mapped_column(String(24), primary_key=True)  # e.g. "day:2026-01-05"
    used: Mapped[int] = mapped_column(Integer, default=0)
    committed: Mapped[int] = mapped_column(Integer, default=0)
    cap: Mapped[int] = mapped_column(Integer)


class PartnerEstimate(Base):
    """Outcome counts behind the Beta posteriors of acceptance and funding per partner and tier."""

    __tablename__ = "partner_estimates"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tier: Mapped[str] = mapped_column(String(40), primary_key=True)
    accept_s: Mapped[int] = mapped_column(Integer, default=0)
    accept_f: Mapped[int] = mapped_column(Integer, default=0)
    fund_s: Mapped[int] = mapped_column(Integer, default=0)
    fund_f: Mapped[int] = mapped_column(Integer, default=0)


class PartnerStats(Base):
    """Accepted and returned leads per partner: the return share is checked against these atomically."""

    __tablename__ = "partner_stats"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)


class PartnerPing(Base):
    """One ping of one partner for one lead: feeds response, bid and win rates and latency percentiles."""

    __tablename__ = "partner_pings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    partner_id: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    bid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    won: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class PartnerObservation(Base):
    """What the contextual estimates learned from, in order: post verdicts (with the lead's bands and the
    price) and funding outcomes. Replayed at start so a restart keeps what was learned; rows older than the
    estimates' memory are pruned."""

    __tablename__ = "partner_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    replica: Mapped[str | None] = mapped_column(String(32))  # the process that learned it live
    kind: Mapped[str] = mapped_column(String(8))  # post | outcome
    lead_id: Mapped[str] = mapped_column(String(40))
    partner_id: Mapped[str] = mapped_column(String(40))
    success: Mapped[bool] = mapped_column(Boolean)  # accepted (post) or funded (outcome)
    features: Mapped[str] = mapped_column(Text, default="")  # JSON [[group, value], ...] of a post's lead
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    decision_ms: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(index=True)
