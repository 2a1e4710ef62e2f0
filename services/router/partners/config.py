"""Typed schema of the `partners:` section of config/router.yaml: the partner registry and the knobs of
pinging, selection and delivery. Validated at load; a bad registry is refused with the reason."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from services.common.config import Schema, TimeZoneName, above, duplicate_ids, refuse, unknown_names
from services.common.tls import TlsError, TlsFiles, channel_credentials

CapWindow = Literal["hour", "day", "week", "month"]
CAP_WINDOWS: tuple[CapWindow, ...] = ("hour", "day", "week", "month")


class Eligibility(Schema):
    """Conditions a partner declares; an applicant outside them is never pinged (reason INELIGIBLE)."""

    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    regions: list[str] = Field(default_factory=list, description="allowed regions; empty = all")
    blocked_regions: list[str] = Field(default_factory=list)
    min_amount_fen: int | None = Field(default=None, ge=0)
    max_amount_fen: int | None = Field(default=None, ge=0)
    min_score: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Eligibility:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        if (
            self.min_amount_fen is not None
            and self.max_amount_fen is not None
            and self.min_amount_fen > self.max_amount_fen
        ):
            raise ValueError("min_amount_fen is above max_amount_fen")
        return self


class Pricing(Schema):
    """Either a fixed price per lead or the bid the partner returns to the ping, never below the tier minimum."""

    mode: Literal["fixed", "bid"] = "bid"
    fixed_price_fen: int = Field(default=0, ge=0)
    min_price_fen: dict[str, int] = Field(default_factory=dict, description="tier → minimum price (fen)")

    @model_validator(mode="after")
    def _fixed_has_price(self) -> Pricing:
        if self.mode == "fixed" and self.fixed_price_fen <= 0:
            raise ValueError("a fixed-price partner needs fixed_price_fen > 0")
        if any(v < 0 for v in self.min_price_fen.values()):
            raise ValueError("min_price_fen values must not be negative")
        return self


class Caps(Schema):
    """Maximum leads per calendar window in the registry's cap time zone; absent = unlimited."""

    hour: int | None = Field(default=None, ge=0)
    day: int | None = Field(default=None, ge=0)
    week: int | None = Field(default=None, ge=0)
    month: int | None = Field(default=None, ge=0)

    def limits(self) -> dict[CapWindow, int]:
        values: dict[CapWindow, int | None] = {
            "hour": self.hour,
            "day": self.day,
            "week": self.week,
            "month": self.month,
        }
        return {k: v for k, v in values.items() if v is not None}


class PartnerTls(Schema):
    """TLS to one partner's server. Present (even empty) = encrypted and the server certificate verified;
    absent on the partner = plaintext. Relative paths are taken from the router's working directory."""

    ca_file: str = Field(
        default="", description="PEM CA bundle the partner's server cert must chain to; empty = system roots"
    )
    cert_file: str = Field(default="", description="client certificate presented for mutual TLS (with key_file)")
    key_file: str = Field(default="", description="private key of cert_file (with cert_file)")

    def files(self) -> TlsFiles:
        return TlsFiles.of(self.cert_file, self.key_file, self.ca_file)


class Reconnect(Schema):
    """How soon the router's channel to a partner dials again after losing it (gRPC connection backoff).

    gRPC's own defaults (first retry after 1 s, ×1.6 per failure up to 120 s, each attempt given 20 s)
    leave a channel that lost its partner for a while failing every call instantly (UNAVAILABLE) long after
    the partner is back, because its next dial is still scheduled far out. A dial to a partner that is
    down costs one refused TCP connect, so retrying twice a second is cheap and bounds recovery.
    """

    initial_backoff_ms: int = Field(
        default=100, gt=0, le=60_000, description="wait before the first re-dial (grpc.initial_reconnect_backoff_ms)"
    )
    max_backoff_ms: int = Field(
        default=500,
        gt=0,
        le=120_000,
        description="longest wait between dials, ±20% jitter (grpc.max_reconnect_backoff_ms); bounds recovery",
    )
    connect_timeout_ms: int = Field(
        default=2000,
        gt=0,
        le=60_000,
        description="time one dial (TCP + TLS handshake) is given (grpc.min_reconnect_backoff_ms); a dial to a "
        "silent host blocks the next one this long",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Reconnect:
        if self.initial_backoff_ms > self.max_backoff_ms:
            raise ValueError("initial_backoff_ms is above max_backoff_ms")
        return self


class Partner(Schema):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    name: str = ""
    partner_class: str = Field(default="consumer_finance", description="declared class consent may name")
    endpoint: str = Field(min_length=3, description="host:port of its skylane.partner.v1 server")
    token: str = Field(default="", description="postback bearer token (dev only; prefer token_env)")
    token_env: str = Field(default="", description="environment variable holding the postback token")
    tiers: list[str] = Field(min_length=1, description="tiers whose leads it accepts")
    eligibility: Eligibility = Field(default_factory=Eligibility)
    pricing: Pricing = Field(default_factory=Pricing)
    annual_cost_rate: float = Field(ge=0, description="APR of its product, e.g. 0.18 for 18%/year")
    allow_listed: bool = False
    caps: Caps = Field(default_factory=Caps)
    ping_timeout_ms: int = Field(default=500, gt=0, le=10_000)
    accept_window_seconds: int | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="its bid holds for a post that starts within this long of the ping (contract term); "
        "absent = for the whole offer window",
    )
    enabled: bool = True
    tls: PartnerTls | None = Field(default=None, description="TLS to its server; absent = plaintext")
    reconnect: Reconnect = Field(default_factory=Reconnect, description="re-dial backoff of its channel")

    @model_validator(mode="after")
    def _tls_files_usable(self) -> Partner:
        # Checked here rather than on PartnerTls so the refusal names the partner, and at load rather than
        # at the first ping, so a wrong path stops the (re)load instead of failing every call to the partner.
        if self.tls is None:
            return self
        if bool(self.tls.cert_file) != bool(self.tls.key_file):
            raise ValueError(
                f"partner {self.id}: tls.cert_file and tls.key_file go together (mutual TLS): give both or neither"
            )
        try:
            # Builds the credentials once and drops them: the same reads and PEM checks the channel will do.
            channel_credentials(self.tls.files())
        except TlsError as exc:
            raise ValueError(f"partner {self.id}: {exc}") from None
        return self


class Delivery(Schema):
    """Outbox dispatcher: per-attempt deadline, exponential backoff with full jitter, circuit breaker."""

    attempt_timeout_ms: int = Field(default=2000, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    base_backoff_ms: int = Field(default=500, gt=0)
    max_backoff_ms: int = Field(default=60_000, gt=0)
    breaker_failures: int = Field(default=5, ge=1, description="consecutive failures that open the circuit")
    # Short on purpose: a dead partner costs one failing probe per open period, while every extra second
    # the circuit stays open after the partner is back is a second of its leads going unsold.
    breaker_cooldown_ms: int = Field(
        default=1000, gt=0, description="open period: how long an open circuit waits before its half-open probe"
    )
    poll_interval_ms: int = Field(default=200, gt=0)
    batch_size: int = Field(default=50, ge=1)
    background: bool = Field(default=True, description="run the dispatcher loop in the service process")

    @model_validator(mode="after")
    def _ordered(self) -> Delivery:
        why = "the first retry's wait must not exceed the longest"
        refuse(above("base_backoff_ms", self.base_backoff_ms, "max_backoff_ms", self.max_backoff_ms, why))
        return self


class PartnersConfig(Schema):
    policy: Literal["thompson", "waterfall"] = "thompson"
    waterfall: dict[str, list[str]] = Field(default_factory=dict, description="tier → partner ids, best first")
    ping_budget_ms: int = Field(default=750, gt=0, le=10_000)
    cost_ceiling_rate: float = Field(default=0.24, gt=0, description="APR above which partners are never used")
    consent_purpose: str = "loan_referral"
    offer_window_seconds: int = Field(
        default=900, gt=0, description="how long a rejected lead may go to the next bidder"
    )
    max_posts_per_lead: int | None = Field(
        default=None, ge=1, le=50, description="posts one lead may get down its chain; absent = no limit"
    )
    post_cost_fen: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="what one post costs (a fee, or the goodwill a rejection costs), weighed when ordering bidders",
    )
    max_return_share: float = Field(default=0.1, ge=0, le=1, description="returns beyond this share are refused")
    caps_timezone: TimeZoneName = "Asia/Shanghai"
    pool_tiers: list[str] = Field(default_factory=list, description="informational: tiers sent to the pool")
    delivery: Delivery = Field(default_factory=Delivery)
    lenders: list[Partner] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> PartnersConfig:
        ids = [p.id for p in self.lenders]
        problems = duplicate_ids("lenders", ids, "partner")
        for tier, order in self.waterfall.items():
            problems += unknown_names(f"waterfall.{tier}", order, ids, "partner")
            problems += duplicate_ids(f"waterfall.{tier}", order, "partner", None)
        refuse(problems)
        tokens = [p.token for p in self.lenders if p.token]
        if len(tokens) != len(set(tokens)):
            raise ValueError("two partners share a postback token")
        return self

    def by_id(self) -> dict[str, Partner]:
        return {p.id: p for p in self.lenders}
