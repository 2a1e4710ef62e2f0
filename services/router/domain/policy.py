"""A routing policy as pure functions: knock-outs, scorecard, tier, in-house product rules.

Capacity is the only stateful input; it is settled by the caller (`finalize`) after `evaluate`, so the
same evaluation serves live routing, shadow decisions and what-if replays.
"""

from __future__ import annotations

from services.common.config import content_version
from services.router.config import Policy
from services.router.domain.conditions import holds
from services.router.domain.model import (
    DECLINED_TIER,
    Arm,
    CapacityClaim,
    Destination,
    Evaluation,
    Facts,
    PolicyDecision,
    Reason,
)

HOUR = 3600.0


def policy_version(policy: Policy) -> str:
    return content_version(policy.model_dump(mode="json"))


class CompiledPolicy:
    def __init__(self, policy: Policy, version: str | None = None) -> None:
        self.policy = policy
        self.version = version or policy_version(policy)
        self._deny = frozenset(policy.knockouts.deny_list)
        self._blocked = frozenset(policy.knockouts.blocked_regions)

    @property
    def history_hours(self) -> int:
        """How far back velocity rules look."""
        k = self.policy.knockouts
        return max((v.window_hours for v in (k.applicant_velocity, k.device_velocity) if v is not None), default=0)

    @property
    def history_depth(self) -> int:
        """How many earlier decisions velocity rules need to see."""
        k = self.policy.knockouts
        return max((v.max_applications for v in (k.applicant_velocity, k.device_velocity) if v is not None), default=0)

    def score(self, facts: Facts) -> int:
        card = self.policy.scorecard
        attrs = facts.attributes
        points = card.base_points
        for attr in card.attributes:
            if attr.attribute not in attrs:
                points += attr.missing_points
                continue
            for b in attr.bins:
                if holds(attrs, attr.attribute, b.op, b.value):
                    points += b.points
                    break
            else:
                points += attr.default_points
        ext = card.external_score
        if ext is not None:
            value = attrs.get(ext.attribute)
            if isinstance(value, int | float) and not isinstance(value, bool):
                points += round(ext.weight * (value - ext.center))
            else:
                points += ext.missing_points
        return points

    def knockouts(self, facts: Facts) -> list[Reason]:
        k = self.policy.knockouts
        attrs = facts.attributes
        out: list[Reason] = []
        if facts.applicant_ref in self._deny:
            out.append(Reason("DENY_LISTED", "the applicant is on the deny list"))
        if k.age is not None:
            age = attrs.get("age")
            if not isinstance(age, int):
                out.append(Reason("AGE_UNKNOWN", "age is required to check the age bounds"))
            elif not k.age.min <= age <= k.age.max:
                out.append(Reason("AGE_OUT_OF_RANGE", f"age {age} is outside {k.age.min}-{k.age.max}"))
        region = attrs.get("region")
        if isinstance(region, str) and region in self._blocked:
            out.append(Reason("REGION_BLOCKED", f"region {region} is blocked"))
        for limit, history, code, who in (
            (k.applicant_velocity, facts.applicant_history, "VELOCITY_APPLICANT", "applicant"),
            (k.device_velocity, facts.device_history if facts.has_device else (), "VELOCITY_DEVICE", "device"),
        ):
            if limit is None:
                continue
            recent = sum(1 for age_s in history if age_s < limit.window_hours * HOUR)
            if recent + 1 > limit.max_applications:
                out.append(
                    Reason(
                        code,
                        f"{recent + 1} applications from this {who} within {limit.window_hours}h "
                        f"(at most {limit.max_applications})",
                    )
                )
        for rule in k.rules:
            if all(holds(attrs, c.attribute, c.op, c.value) for c in rule.all):
                out.append(Reason(rule.code, rule.message))
        return out

    def evaluate(self, facts: Facts) -> Evaluation:
        score = self.score(facts)
        knocked = self.knockouts(facts)
        if knocked:
            return Evaluation(self.version, DECLINED_TIER, score, tuple(knocked), None, Destination.DECLINED)
        tier = next((t for t in self.policy.tiers if score >= t.min_score), None)
        if tier is None:
            floor = self.policy.tiers[-1].min_score
            reason = Reason("SCORE_BELOW_MINIMUM", f"score {score} is below the lowest tier threshold {floor}")
            return Evaluation(self.version, DECLINED_TIER, score, (reason,), None, Destination.DECLINED)
        reasons = [Reason(f"TIER_{tier.name.upper()}", f"score {score} >= {tier.name} threshold {tier.min_score}")]
        if tier.route == "decline":
            reasons.append(Reason("TIER_DECLINED", f"tier {tier.name} is not served"))
            return Evaluation(self.version, tier.name, score, tuple(reasons), None, Destination.DECLINED)
        if tier.route == "partner_pool":
            reasons.append(Reason("TIER_ROUTES_TO_POOL", f"tier {tier.name} is served by the partner pool"))
            return Evaluation(self.version, tier.name, score, tuple(reasons), None, Destination.PARTNER_POOL)
        refusals = self._product_refusals(tier.name, facts)
        if refusals:
            return Evaluation(self.version, tier.name, score, (*reasons, *refusals), None, Destination.PARTNER_POOL)
        product = self.policy.in_house
        assert product is not None  # guaranteed by the schema for in_house tiers
        return Evaluation(
            self.version,
            tier.name,
            score,
            tuple(reasons),
            CapacityClaim(product.product_id, product.daily_cap),
            Destination.PARTNER_POOL,
        )

    def _product_refusals(self, tier: str, facts: Facts) -> list[Reason]:
        product = self.policy.in_house
        assert product is not None
        attrs = facts.attributes
        out: list[Reason] = []
        amount = attrs.get("requested_amount_fen", 0)
        if not isinstance(amount, int) or not product.min_amount_fen <= amount <= product.max_amount_fen:
            out.append(
                Reason(
                    "IN_HOUSE_AMOUNT_OUT_OF_RANGE",
                    f"requested {amount} fen is outside {product.min_amount_fen}-{product.max_amount_fen} fen",
                )
            )
        term = attrs.get("term_months", 0)
        if term not in product.terms_months:
            out.append(Reason("IN_HOUSE_TERM_NOT_OFFERED", f"term {term} months is not offered"))
        cost = product.annual_cost_bp[tier]
        if cost > product.annual_cost_ceiling_bp:
            out.append(
                Reason(
                    "IN_HOUSE_COST_ABOVE_CEILING",
                    f"annual cost {cost} bp is above the ceiling {product.annual_cost_ceiling_bp} bp",
                )
            )
        for c in product.conditions:
            if not holds(attrs, c.attribute, c.op, c.value):
                out.append(Reason("IN_HOUSE_CONDITION_UNMET", f"in-house condition {c.attribute} {c.op} {c.value}"))
        return out


def finalize(evaluation: Evaluation, arm: Arm, capacity_granted: bool) -> PolicyDecision:
    """Settles the destination once the capacity answer is known."""
    claim = evaluation.capacity_claim
    if claim is not None and capacity_granted:
        reason = Reason("IN_HOUSE", f"served by the in-house product {claim.product_id}")
        return PolicyDecision(
            evaluation.policy_version,
            arm,
            evaluation.tier,
            evaluation.score,
            Destination.IN_HOUSE,
            claim.product_id,
            (*evaluation.reasons, reason),
        )
    reasons = evaluation.reasons
    if claim is not None:
        reasons = (
            *reasons,
            Reason(
                "IN_HOUSE_CAPACITY_EXHAUSTED",
                f"in-house daily cap of {claim.daily_cap} is used up; overflow to the partner pool",
            ),
        )
    return PolicyDecision(
        evaluation.policy_version, arm, evaluation.tier, evaluation.score, evaluation.fallback, "", reasons
    )
