"""Pure partner-selection logic: who may be pinged, how bids are ranked, what each partner's part was.

No I/O here: time, randomness, circuit state and learned estimates come in as arguments, so the same
code runs in RouteApplicant, in the dispatcher's fallback and in `skylane router simulate`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.router.partners.config import CapWindow, Partner, PartnersConfig

BID = "BID"  # ping status only: the partner bid

# Trace statuses (LeadTraceEntry.status): the chosen one, the ranked runners-up, and why others were skipped.
CHOSEN = "CHOSEN"
FALLBACK = "FALLBACK"
DISABLED = "DISABLED"
NOT_ALLOW_LISTED = "NOT_ALLOW_LISTED"
COST_CEILING = "COST_CEILING"
TIER_NOT_ACCEPTED = "TIER_NOT_ACCEPTED"
INELIGIBLE = "INELIGIBLE"
NO_CONSENT = "NO_CONSENT"
CIRCUIT_OPEN = "CIRCUIT_OPEN"
CAPPED = "CAPPED"
TIMEOUT = "TIMEOUT"
ERROR = "ERROR"
NO_BID = "NO_BID"
BELOW_MIN_PRICE = "BELOW_MIN_PRICE"
ALREADY_KNOWN = "ALREADY_KNOWN"
LOWER_VALUE = "LOWER_VALUE"
NOT_PLANNED = "NOT_PLANNED"  # bid, but posting to it would lower the lead's expected value (chain limits)


@dataclass(frozen=True)
class Consent:
    """One consent record: the recipients (by partner id or by class) and purposes the applicant agreed to."""

    recipient_ids: frozenset[str]
    recipient_classes: frozenset[str]
    purposes: frozenset[str]
    granted_at: datetime | None = None
    expires_at: datetime | None = None

    def covers(self, partner: Partner, purpose: str, now: datetime) -> bool:
        if self.expires_at is not None and self.expires_at <= now:
            return False
        named = partner.id in self.recipient_ids or partner.partner_class in self.recipient_classes
        return named and purpose in self.purposes


@dataclass(frozen=True)
class LeadApplicant:
    """What selection needs to know about an applicant; nothing here identifies a person."""

    applicant_ref: str
    tier: str
    score: float
    age: int | None
    region: str
    requested_amount_fen: int
    term_months: int
    phone_hash: str
    channel: str
    consents: tuple[Consent, ...] = ()


@dataclass(frozen=True)
class TraceEntry:
    partner_id: str
    status: str
    detail: str = ""
    bid_fen: int = 0
    latency_ms: float = 0.0
    expected_value_fen: float = 0.0
    rank: int = 0


@dataclass(frozen=True)
class PingResult:
    """A partner's answer, or its absence. status: BID, NO_BID, TIMEOUT, ERROR."""

    partner_id: str
    status: str
    bid_fen: int = 0
    known: bool = False
    latency_ms: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class BidInfo:
    bid_fen: int
    latency_ms: float


@dataclass(frozen=True)
class Candidate:
    partner_id: str
    price_fen: int
    expected_value_fen: float


@dataclass
class BetaCounts:
    """Successes/failures behind Beta(1+s, 1+f) posteriors of p(accept) and p(fund | accepted)."""

    accept_s: int = 0
    accept_f: int = 0
    fund_s: int = 0
    fund_f: int = 0

    def mean_accept(self) -> float:
        return (1 + self.accept_s) / (2 + self.accept_s + self.accept_f)

    def mean_fund(self) -> float:
        return (1 + self.fund_s) / (2 + self.fund_s + self.fund_f)


@dataclass
class EstimateBook:
    """Learned acceptance and funding per (partner, tier); a partner never seen starts at Beta(1,1)."""

    counts: dict[tuple[str, str], BetaCounts] = field(default_factory=dict)

    def get(self, partner_id: str, tier: str) -> BetaCounts:
        return self.counts.get((partner_id, tier)) or BetaCounts()

    def add(
        self, partner_id: str, tier: str, *, accept_s: int = 0, accept_f: int = 0, fund_s: int = 0, fund_f: int = 0
    ) -> None:
        c = self.counts.setdefault((partner_id, tier), BetaCounts())
        c.accept_s += accept_s
        c.accept_f += accept_f
        c.fund_s += fund_s
        c.fund_f += fund_f


# --- eligibility before the ping -------------------------------------------------------------------


def prefilter(
    applicant: LeadApplicant,
    config: PartnersConfig,
    circuit_open: Callable[[str], bool],
    now: datetime,
) -> tuple[list[Partner], list[TraceEntry]]:
    """Partners worth pinging, and a trace entry for every partner that is not (with the reason)."""
    eligible: list[Partner] = []
    skipped: list[TraceEntry] = []
    for partner in config.lenders:
        reason = _skip_reason(applicant, partner, config, now)
        if reason is None and circuit_open(partner.id):
            reason = (CIRCUIT_OPEN, "delivery circuit is open")
        if reason is None:
            eligible.append(partner)
        else:
            skipped.append(TraceEntry(partner.id, reason[0], reason[1]))
    return eligible, skipped


def _skip_reason(
    applicant: LeadApplicant, partner: Partner, config: PartnersConfig, now: datetime
) -> tuple[str, str] | None:
    standing = standing_reason(partner, applicant.tier, config)
    if standing:
        return standing
    why = _ineligible(applicant, partner)
    if why:
        return INELIGIBLE, why
    if not any(c.covers(partner, config.consent_purpose, now) for c in applicant.consents):
        return (
            NO_CONSENT,
            f"no consent names {partner.id} or class {partner.partner_class} for {config.consent_purpose}",
        )
    return None


def standing_reason(partner: Partner, tier: str, config: PartnersConfig) -> tuple[str, str] | None:
    """Why the partner may not receive any lead of this tier right now (config standing only)."""
    if not partner.enabled:
        return DISABLED, "partner disabled in config"
    if not partner.allow_listed:
        return NOT_ALLOW_LISTED, "partner is not on the allow-list"
    if partner.annual_cost_rate > config.cost_ceiling_rate:
        return COST_CEILING, f"annual cost {partner.annual_cost_rate:.2%} above ceiling {config.cost_ceiling_rate:.2%}"
    if tier not in partner.tiers:
        return TIER_NOT_ACCEPTED, f"partner does not take tier {tier}"
    return None


def _ineligible(a: LeadApplicant, p: Partner) -> str:
    e = p.eligibility
    if e.min_age is not None and (a.age is None or a.age < e.min_age):
        return f"age below {e.min_age}"
    if e.max_age is not None and (a.age is None or a.age > e.max_age):
        return f"age above {e.max_age}"
    if e.regions and a.region not in e.regions:
        return "region not served"
    if a.region in e.blocked_regions:
        return "region blocked"
    if e.min_amount_fen is not None and a.requested_amount_fen < e.min_amount_fen:
        return "amount below partner minimum"
    if e.max_amount_fen is not None and a.requested_amount_fen > e.max_amount_fen:
        return "amount above partner maximum"
    if e.min_score is not None and a.score < e.min_score:
        return "score below partner minimum"
    return ""


# --- ranking after the ping ------------------------------------------------------------------------

Scorer = Callable[[str, str, int], float]  # (partner_id, tier, price_fen) -> expected value in fen
# Orders priced bidders for post-with-fallback (selection.plan); bidders it leaves out are not posted to.
Planner = Callable[[list["Candidate"]], list["Candidate"]]


def thompson_scorer(book: EstimateBook, rng: random.Random) -> Scorer:
    """Samples p(accept) and p(fund) from their posteriors: uncertain partners sometimes win (exploration)."""

    def score(partner_id: str, tier: str, price: int) -> float:
        c = book.get(partner_id, tier)
        pa = rng.betavariate(1 + c.accept_s, 1 + c.accept_f)
        pf = rng.betavariate(1 + c.fund_s, 1 + c.fund_f)
        return price * pa * pf

    return score


def mean_scorer(book: EstimateBook) -> Scorer:
    def score(partner_id: str, tier: str, price: int) -> float:
        c = book.get(partner_id, tier)
        return price * c.mean_accept() * c.mean_fund()

    return score


def waterfall_scorer(order: Sequence[str]) -> Scorer:
    """Static priority: earlier in the tier's list wins; unlisted bidders come after, by price."""
    position = {pid: i for i, pid in enumerate(order)}

    def score(partner_id: str, tier: str, price: int) -> float:
        if partner_id in position:
            return 1e15 - position[partner_id] * 1e12
        return float(price)

    return score


def price_of(partner: Partner, tier: str, ping: PingResult) -> tuple[int, str] | None:
    """The price a bid is worth, or None with the reason it does not count."""
    price = partner.pricing.fixed_price_fen if partner.pricing.mode == "fixed" else ping.bid_fen
    if price <= 0:
        return None
    minimum = partner.pricing.min_price_fen.get(tier, 0)
    if price < minimum:
        return None
    return price, ""


def rank(
    applicant: LeadApplicant,
    partners: Mapping[str, Partner],
    pings: Iterable[PingResult],
    scorer: Scorer | None,
    *,
    planner: Planner | None = None,
) -> tuple[list[Candidate], list[TraceEntry]]:
    """Ranks bidders best first; every pinged partner that cannot be ranked gets its skip reason.

    With a planner (the learned policy), the order is the planner's chain for post-with-fallback and
    bidders outside the chain are traced NOT_PLANNED; otherwise bidders are sorted by the scorer."""
    candidates: list[tuple[float, Candidate]] = []
    trace: list[TraceEntry] = []
    ping_by_id: dict[str, PingResult] = {}
    for ping in pings:
        ping_by_id[ping.partner_id] = ping
        partner = partners[ping.partner_id]
        base = BidInfo(ping.bid_fen, ping.latency_ms)
        if ping.status in (TIMEOUT, ERROR):
            trace.append(TraceEntry(ping.partner_id, ping.status, ping.detail, base.bid_fen, base.latency_ms))
            continue
        if ping.known:
            trace.append(
                TraceEntry(
                    ping.partner_id, ALREADY_KNOWN, "partner already knows the applicant", base.bid_fen, base.latency_ms
                )
            )
            continue
        if ping.status == NO_BID and partner.pricing.mode == "bid":
            trace.append(TraceEntry(ping.partner_id, NO_BID, "partner did not bid", base.bid_fen, base.latency_ms))
            continue
        priced = price_of(partner, applicant.tier, ping)
        if priced is None:
            minimum = partner.pricing.min_price_fen.get(applicant.tier, 0)
            trace.append(
                TraceEntry(
                    ping.partner_id,
                    BELOW_MIN_PRICE,
                    f"bid below tier minimum {minimum} fen",
                    base.bid_fen,
                    base.latency_ms,
                )
            )
            continue
        price = priced[0]
        value = scorer(ping.partner_id, applicant.tier, price) if scorer is not None else 0.0
        candidates.append((value, Candidate(ping.partner_id, price, value)))
    if planner is not None:
        ranked = planner([c for _, c in candidates])
        planned = {c.partner_id for c in ranked}
        for _, c in candidates:
            if c.partner_id not in planned:
                p = ping_by_id[c.partner_id]
                trace.append(
                    TraceEntry(c.partner_id, NOT_PLANNED, "not worth a post in this chain", c.price_fen, p.latency_ms)
                )
    else:
        # Stable tie-break by partner id so equal scores rank the same way on every replica.
        candidates.sort(key=lambda vc: (-vc[0], vc[1].partner_id))
        ranked = [c for _, c in candidates]
    for i, c in enumerate(ranked, start=1):
        p = ping_by_id[c.partner_id]
        trace.append(
            TraceEntry(c.partner_id, FALLBACK, "ranked", c.price_fen, p.latency_ms, round(c.expected_value_fen, 3), i)
        )
    return ranked, trace


def finalize_trace(trace: list[TraceEntry], chosen: str | None, capped: Iterable[str]) -> list[TraceEntry]:
    """Marks the chosen partner, capped ones, and ranked ones that lost on value."""
    capped_set = set(capped)
    out = []
    for e in trace:
        if e.status == FALLBACK:
            if e.partner_id == chosen:
                e = TraceEntry(
                    e.partner_id, CHOSEN, "highest value", e.bid_fen, e.latency_ms, e.expected_value_fen, e.rank
                )
            elif e.partner_id in capped_set:
                e = TraceEntry(
                    e.partner_id, CAPPED, "cap reached", e.bid_fen, e.latency_ms, e.expected_value_fen, e.rank
                )
            else:
                e = TraceEntry(
                    e.partner_id, LOWER_VALUE, "kept as fallback", e.bid_fen, e.latency_ms, e.expected_value_fen, e.rank
                )
        out.append(e)
    return out


# --- masking and calendar windows ------------------------------------------------------------------


def age_band(age: int | None) -> str:
    if age is None:
        return ""
    for low, high in ((0, 17), (18, 24), (25, 34), (35, 44), (45, 54), (55, 64)):
        if low <= age <= high:
            return f"{low}-{high}"
    return "65+"


def score_band(score: float, width: int = 50) -> str:
    low = int(score // width) * width
    return f"{low}-{low + width - 1}"


def cap_window_keys(now: datetime, timezone: str, windows: Iterable[CapWindow]) -> dict[CapWindow, str]:
    """Calendar windows in the cap time zone: a cap of N per day means N per local calendar day."""
    local = now.astimezone(ZoneInfo(timezone))
    year, week, _ = local.isocalendar()
    keys: dict[CapWindow, str] = {
        "hour": local.strftime("%Y-%m-%dT%H"),
        "day": local.strftime("%Y-%m-%d"),
        "week": f"{year}-W{week:02d}",
        "month": local.strftime("%Y-%m"),
    }
    return {w: keys[w] for w in windows}


def cap_window_bounds(now: datetime, timezone: str, window: CapWindow) -> tuple[datetime, datetime]:
    """Start and end (local times of the cap time zone) of the calendar window that holds `now`."""
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if window == "day":
        return midnight, midnight + timedelta(days=1)
    if window == "week":
        start = midnight - timedelta(days=local.weekday())
        return start, start + timedelta(days=7)
    start = midnight.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def cap_window_left(now: datetime, timezone: str, window: CapWindow) -> float:
    """Seconds until the calendar window that holds `now` ends (at least 1)."""
    _, end = cap_window_bounds(now, timezone, window)
    return max((end - now).total_seconds(), 1.0)
