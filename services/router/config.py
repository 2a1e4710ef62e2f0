"""Typed schema of config/router.yaml.

The file holds the champion `policy` (scorecard, tiers, knock-outs, in-house product) and optionally a
`candidate` (another policy plus how it runs: shadow or a rollout share). Every condition names an
attribute from the tag catalogue and an operator from the declared set; anything else is refused at load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from services.common.config import Schema, TimeZoneName, duplicate_ids, refuse, unknown_names
from services.common.event_config import EventsConfig
from services.router.domain.conditions import check_condition
from services.router.domain.tags import CODE, DERIVED_TAGS, TagSpec, catalogue
from services.router.partners.config import PartnersConfig

_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class CategoricalTag(Schema):
    """A code from a closed set: `values` (the list is authoritative; `pattern`, if also given, checks the
    list at load) or, without a list, any full match of `pattern`. Values are codes, never text."""

    type: Literal["categorical"]
    values: list[str] = Field(default_factory=list)
    pattern: str | None = None

    @model_validator(mode="after")
    def _closed(self) -> CategoricalTag:
        if not self.values and self.pattern is None:
            raise ValueError("a categorical tag declares its `values`, a `pattern`, or both")
        try:
            compiled = re.compile(self.pattern) if self.pattern is not None else None
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        bad = [v for v in self.values if not CODE.fullmatch(v) or (compiled and not compiled.fullmatch(v))]
        if bad:
            raise ValueError(f"values {bad!r} are not codes (ASCII letters, digits, _ . : -) of the declared pattern")
        return self

    def spec(self, name: str) -> TagSpec:
        compiled = re.compile(self.pattern) if self.pattern is not None else None
        return TagSpec(name, "string", kind="categorical", values=frozenset(self.values), pattern=compiled)


class NumberTag(Schema):
    """A number within [min, max]; `integer: true` takes whole numbers only."""

    type: Literal["number"]
    min: float
    max: float
    integer: bool = False

    @model_validator(mode="after")
    def _range(self) -> NumberTag:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def spec(self, name: str) -> TagSpec:
        return TagSpec(name, "int" if self.integer else "number", self.min, self.max, kind="number")


class BooleanTag(Schema):
    type: Literal["boolean"]

    def spec(self, name: str) -> TagSpec:
        return TagSpec(name, "bool", kind="boolean")


class FreeTextTag(Schema):
    """Accepted up to `max_length` characters, then dropped: never used in conditions, never recorded in the
    decision inputs, never part of a lead or of what a partner receives."""

    type: Literal["free_text"]
    max_length: int = Field(ge=1, le=4000)

    def spec(self, name: str) -> TagSpec:
        return TagSpec(name, "string", kind="free_text", max_length=self.max_length)


TagDeclaration = Annotated[CategoricalTag | NumberTag | BooleanTag | FreeTextTag, Field(discriminator="type")]


class Condition(Schema):
    """`attribute op value`, e.g. {attribute: region, op: in, value: [CN-31, CN-32]}."""

    attribute: str
    op: str
    value: Any = None


class ScoreBin(Schema):
    """Points given when the scorecard attribute satisfies `op value`; the first matching bin wins."""

    op: str
    value: Any = None
    points: int


class ScoreAttribute(Schema):
    attribute: str
    bins: list[ScoreBin] = Field(min_length=1)
    # Points when the tag is absent from the request, and when it is present but no bin matches.
    missing_points: int = 0
    default_points: int = 0


class ExternalScore(Schema):
    """Adds round(weight × (score − center)) points for an external credit score."""

    attribute: str = "external_credit_score"
    weight: float
    center: int = 0
    missing_points: int = 0


class Scorecard(Schema):
    base_points: int = 0
    attributes: list[ScoreAttribute] = Field(default_factory=list)
    external_score: ExternalScore | None = None


class Tier(Schema):
    name: str = Field(pattern=_NAME)
    # Applicants with score >= min_score (and below the tier above) fall in this tier.
    min_score: int
    # in_house: served by the in-house product while its rules and cap allow, else the partner pool.
    route: Literal["in_house", "partner_pool", "decline"]


class AgeBounds(Schema):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)


class VelocityLimit(Schema):
    """At most `max_applications` counted decisions within the trailing window (this one included)."""

    max_applications: int = Field(ge=1, le=1000)
    window_hours: int = Field(ge=1, le=24 * 90)


class KnockoutRule(Schema):
    """Declines when all conditions hold."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")
    message: str
    all: list[Condition] = Field(min_length=1)


class Knockouts(Schema):
    age: AgeBounds | None = None
    blocked_regions: list[str] = Field(default_factory=list)
    # Hashed applicant references that are always declined.
    deny_list: list[str] = Field(default_factory=list)
    applicant_velocity: VelocityLimit | None = None
    device_velocity: VelocityLimit | None = None
    rules: list[KnockoutRule] = Field(default_factory=list)


class InHouseProduct(Schema):
    product_id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    min_amount_fen: int = Field(ge=0)
    max_amount_fen: int = Field(gt=0)
    terms_months: list[int] = Field(min_length=1)
    # Annual cost (APR) of the product for each in-house tier, in basis points; must not exceed the ceiling.
    annual_cost_bp: dict[str, int]
    annual_cost_ceiling_bp: int = 2400
    # Applicants sent in-house per local day (configured time zone).
    daily_cap: int = Field(ge=0)
    # Extra eligibility conditions, all of which must hold.
    conditions: list[Condition] = Field(default_factory=list)


class Policy(Schema):
    scorecard: Scorecard
    tiers: list[Tier] = Field(min_length=1)
    knockouts: Knockouts = Knockouts()
    in_house: InHouseProduct | None = None

    @model_validator(mode="after")
    def _tiers_ordered(self) -> Policy:
        names = [t.name for t in self.tiers]
        problems = duplicate_ids("tiers", names, "tier", "name")
        problems += [
            f"tiers.{i}.name: tier name 'declined' is reserved for the destination of declined applicants"
            for i, name in enumerate(names)
            if name == "declined"
        ]
        refuse(problems)
        for upper, lower in zip(self.tiers, self.tiers[1:], strict=False):
            if lower.min_score >= upper.min_score:
                raise ValueError(
                    "tiers must be listed highest first with strictly descending min_score; "
                    f"{lower.name} ({lower.min_score}) overlaps or is above {upper.name} ({upper.min_score})"
                )
        in_house_tiers = [t.name for t in self.tiers if t.route == "in_house"]
        if in_house_tiers and self.in_house is None:
            raise ValueError(f"tiers {in_house_tiers} route in_house but no in_house product is configured")
        if self.in_house is not None:
            missing = [t for t in in_house_tiers if t not in self.in_house.annual_cost_bp]
            if missing:
                raise ValueError(f"in_house.annual_cost_bp has no price for tiers {missing}")
            if self.in_house.min_amount_fen > self.in_house.max_amount_fen:
                raise ValueError("in_house.min_amount_fen must not exceed max_amount_fen")
        if self.knockouts.age is not None and self.knockouts.age.min > self.knockouts.age.max:
            raise ValueError("knockouts.age.min must not exceed knockouts.age.max")
        return self


class Candidate(Schema):
    mode: Literal["shadow", "rollout"]
    # Share of applicants (by stable hash bucket) the candidate acts for in rollout mode.
    share: float = Field(default=0.0, ge=0.0, le=1.0)
    policy: Policy


class Channel(Schema):
    id: str = Field(pattern=_NAME)
    description: str = ""
    scenarios: list[str] = Field(min_length=1)


class RouterConfig(Schema):
    timezone: TimeZoneName = "Asia/Shanghai"
    # A repeat application by the same applicant within this window gets the same decision back.
    stickiness_hours: int = Field(default=24, ge=0, le=24 * 90)
    # Salt of the rollout buckets; change it only to reshuffle who is in the rollout.
    rollout_salt: str = "router-rollout"
    channels: list[Channel] = Field(min_length=1)
    # Every profile tag RouteApplicant accepts, typed; any other tag is refused (domain/tags.py).
    tags: dict[str, TagDeclaration] = Field(default_factory=dict)
    policy: Policy
    candidate: Candidate | None = None
    # Partner lenders: registry, ping budget, selection policy, delivery (services/router/partners/config.py).
    partners: PartnersConfig = Field(default_factory=PartnersConfig)
    # Event retention and outside-event deduplication (the router consumes no peer).
    events: EventsConfig = Field(default_factory=EventsConfig)

    @model_validator(mode="before")
    @classmethod
    def _no_untyped_tags(cls, data: Any) -> Any:
        # `extra_tags: {name: string}` let any text through (names, phone numbers); say what replaced it.
        if isinstance(data, dict) and "extra_tags" in data:
            raise ValueError("extra_tags was replaced by `tags`: declare every tag with its type (docs/router.md)")
        return data

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, tags: dict[str, Any]) -> dict[str, Any]:
        bad = [n for n in tags if not re.fullmatch(_NAME, n) or n in DERIVED_TAGS]
        if bad:
            raise ValueError(f"tag names {bad!r} must be lower-case identifiers other than {sorted(DERIVED_TAGS)}")
        return tags

    def tag_specs(self) -> dict[str, TagSpec]:
        """The declared tags as specs (without the derived ones; see domain.tags.catalogue)."""
        return {name: declaration.spec(name) for name, declaration in self.tags.items()}

    @property
    def extra_tags(self) -> dict[str, TagSpec]:
        # The name services/router/service/policies.py reads for its snapshot: `catalogue(config.extra_tags)`.
        return self.tag_specs()

    @model_validator(mode="after")
    def _conditions_known(self) -> RouterConfig:
        errors = duplicate_ids("channels", [c.id for c in self.channels], "channel")
        tags = catalogue(self.tag_specs())
        errors += region_errors(tags.get("region"), self._partner_regions(), "partners.lenders")
        policies = [("policy", self.policy)]
        if self.candidate is not None:
            policies.append(("candidate.policy", self.candidate.policy))
        for prefix, policy in policies:
            errors.extend(policy_condition_errors(policy, tags, prefix))
            errors.extend(channel_value_errors(policy, prefix, self.channels))
            # Here rather than on Policy: stored policy versions are validated again when they are put in force.
            if policy.in_house is not None:
                names = [t.name for t in policy.tiers]
                where = f"{prefix}.in_house.annual_cost_bp"
                errors.extend(unknown_names(where, policy.in_house.annual_cost_bp, names, "tier"))
        # A tier either policy defines may be named: the candidate's leads go to the same partners.
        tiers = [t.name for _, policy in policies for t in policy.tiers]
        errors.extend(partner_tier_errors(self.partners, tiers))
        refuse(errors)
        return self

    def _partner_regions(self) -> list[str]:
        return [r for p in self.partners.lenders for r in (*p.eligibility.regions, *p.eligibility.blocked_regions)]


def partner_tier_errors(partners: PartnersConfig, tiers: list[str]) -> list[str]:
    """Every tier the partner registry names (pool, waterfall, a lender's tiers and minimum prices) is one
    a policy defines: a misspelt tier would leave its leads without partners, or a price floor unused."""
    errors = unknown_names("partners.pool_tiers", partners.pool_tiers, tiers, "tier")
    errors += unknown_names("partners.waterfall", partners.waterfall, tiers, "tier")
    for i, lender in enumerate(partners.lenders):
        errors += unknown_names(f"partners.lenders.{i}.tiers", lender.tiers, tiers, "tier")
        where = f"partners.lenders.{i}.pricing.min_price_fen"
        errors += unknown_names(where, lender.pricing.min_price_fen, tiers, "tier")
    return errors


def channel_value_errors(policy: Policy, prefix: str, channels: list[Channel]) -> list[str]:
    """Conditions on the derived `channel` and `scenario` tags name configured channels and scenarios (a
    misspelt one never matches, so its rule silently never applies)."""
    known = {"channel": [c.id for c in channels], "scenario": [s for c in channels for s in c.scenarios]}
    errors: list[str] = []
    for where, attribute, _, value in policy_conditions(policy, prefix):
        if attribute in known:
            named = value if isinstance(value, list) else [value]
            errors += unknown_names(where, [v for v in named if isinstance(v, str)], known[attribute], attribute)
    return errors


def region_errors(spec: TagSpec | None, regions: list[str], where: str) -> list[str]:
    """Region lists (knock-outs, partner eligibility) must name codes the `region` tag can hold."""
    if not regions:
        return []
    if spec is None or spec.kind != "categorical":
        return [f"{where}: regions are listed but no categorical `region` tag is declared"]
    undeclared = [r for r in regions if not spec.accepts(r)]
    return [f"{where}: regions {undeclared!r} are not declared values of 'region'"] if undeclared else []


def policy_conditions(policy: Policy, prefix: str) -> Iterator[tuple[str, str, str, Any]]:
    """Every condition of a policy as (where, attribute, op, value): scorecard bins, knock-out rules and
    in-house conditions."""
    for i, attr in enumerate(policy.scorecard.attributes):
        for j, b in enumerate(attr.bins):
            yield f"{prefix}.scorecard.attributes.{i}.bins.{j}", attr.attribute, b.op, b.value
    for i, rule in enumerate(policy.knockouts.rules):
        for j, c in enumerate(rule.all):
            yield f"{prefix}.knockouts.rules.{i}.all.{j}", c.attribute, c.op, c.value
    if policy.in_house is not None:
        for j, c in enumerate(policy.in_house.conditions):
            yield f"{prefix}.in_house.conditions.{j}", c.attribute, c.op, c.value


def policy_condition_errors(policy: Policy, tags: dict[str, Any], prefix: str) -> list[str]:
    """Every condition of a policy checked against the tag catalogue and the operator set."""
    errors: list[str] = []
    for where, attribute, op, value in policy_conditions(policy, prefix):
        problem = check_condition(tags.get(attribute), attribute, op, value)
        if problem:
            errors.append(f"{where}: {problem}")
    ext = policy.scorecard.external_score
    if ext is not None:
        spec = tags.get(ext.attribute)
        if spec is None or spec.type not in ("int", "number"):
            errors.append(f"{prefix}.scorecard.external_score: {ext.attribute!r} is not a numeric attribute")
    errors.extend(region_errors(tags.get("region"), policy.knockouts.blocked_regions, f"{prefix}.knockouts"))
    return errors
