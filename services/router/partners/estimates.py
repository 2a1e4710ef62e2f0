"""Contextual, pooled, forgetting estimates of P(accept) and P(fund | accepted) for every partner.

One model per outcome (acceptance of a post; funding of an accepted lead), in log-odds:

    logit P(y | partner p, lead x) = level(p, tier) + Σ_groups lift(p, group = value of x)
    level(p, tier) = partner level(p, at the post's time) + tier offset(p, tier)

over what the router knows of a lead — score band, amount band, region, channel, age band (the bands
partners are shown) — and the bid's position in the partner's usual range for the tier.

* Fit: each partner's levels and lifts are the MAP of a logistic regression on its own observations
  (weights decaying with age), refitted by coordinate Newton steps as its data grows; a parameter's
  posterior variance is 1 / curvature (Laplace). A joint fit, so a stream of leads the policy itself
  selected does not confound one group's effect with another's.
* Pooling: a level's prior is the market's rate for the tier (all partners' outcomes) shifted by the
  partner's lift over the market across its other tiers, so a new partner starts at the market and a
  partner seen in one tier carries that to the others; a lift's prior is N(0, τ²) with τ² per group
  estimated from every partner's data (DerSimonian–Laird random effects), or the partner's own when its
  spread is significantly larger. A group that does not matter gets τ² ≈ 0 and adds no noise.
* Exploration: optimistic Thompson sampling, one draw per lead and partner (the mean plus the positive
  part of a sampled deviation), spreads scaled by `explore` (a level still mostly prior explores with its
  full spread).
* Forgetting: observations lose half their weight every `half_life_days` — also while a partner is not
  observed, so one left out of the chains becomes uncertain again and is probed — and a Bernoulli CUSUM per
  partner and outcome forgets most of a partner's history when its outcomes stop matching the estimate,
  so a change of appetite is noticed within a day of traffic while a steady partner keeps a long memory.
  The CUSUM runs over outcomes in the order of their posts (late reports of leads posted before a change
  do not hide it), and an acceptance alarm forgets the partner's funding evidence from before it too.
  A partner's level is read as the mixture of a fast level and a slow one (evidence at the effects' pace),
  weighted by how well each has predicted the partner's recent outcomes (dynamic model averaging).
* A partner-wide level: a change of a partner's appetite or funding hits all its tiers, so the level is
  shared by the partner's tiers and moves over time (a path fitted by a Kalman smoother: evidence fading at
  the level's pace, a small steady drift, a jump at an alarm's dated change), learned from the outcomes of
  all its tiers at once; each tier's offset from it moves at the effects' pace and is fitted against the
  level that held when each outcome's lead was posted.
* Delayed funding outcomes: an accepted lead is pending until its outcome is reported and teaches
  nothing about funding until then (censored, never a failure).

docs/router-decisions.md § 2 gives the reasons and the measurements behind these choices.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.random_effects import NO_HETEROGENEITY, Heterogeneity, heterogeneity
from services.router.partners import level_path
from services.router.partners.domain import LeadApplicant, age_band, score_band
from services.router.partners.selection import Belief

DAY = 86_400.0
GROUPS = ("score", "amount", "region", "channel", "age", "bid")


def amount_band(amount_fen: int) -> str:
    yuan = amount_fen / 100
    for high, label in ((10_000, "<10k"), (30_000, "10k-30k"), (50_000, "30k-50k"), (100_000, "50k-100k")):
        if yuan < high:
            return label
    return "100k+"


Features = tuple[tuple[str, str], ...]


def band_features(tier: str, score_band_: str, amount_fen: int, region: str, channel: str, age_band_: str) -> Features:
    """The lead as partners are shown it (bands, nothing identifying), tier first."""
    return (
        ("tier", tier),
        ("score", score_band_),
        ("amount", amount_band(amount_fen)),
        ("region", region),
        ("channel", channel),
        ("age", age_band_),
    )


def lead_features(a: LeadApplicant) -> Features:
    return band_features(a.tier, score_band(a.score), a.requested_amount_fen, a.region, a.channel, age_band(a.age))


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Priors:
    """Pooling strengths and forgetting (justified in docs/router-decisions.md)."""

    level_var: float = 0.5  # prior variance (log-odds²) of a partner's level in a tier around its prior
    partner_lift_prior: float = 20.0  # observations before a partner's overall lift is trusted half
    half_life_days: float = 6.0  # evidence on effects halves over this much clock time
    level_half_life_days: float = 2.0  # and on partner levels over this much (appetite moves faster)
    cusum_shift: float = 1.5  # the change (log-odds) the CUSUM watches for, either way
    cusum_threshold: float = 8.0  # its alarm level (log-likelihood ratio)
    bias_memory: float = 300.0  # observations over which a partner's standing misfit is averaged
    alarm_keep: float = 0.2  # share of a partner's counts kept after an alarm
    min_tau2: float = 0.0005  # floor of a group's lift variance (logit²)
    own_spread_z: float = 2.0  # a partner's own lift spread is used when this significant
    explore: float = 0.2  # scale of the Thompson draw's spread (1 = the posterior's own)
    level_mix: bool = True  # also keep a slow level (evidence at the effects' pace), mixed in by how it predicts
    mix_memory: float = 30.0  # observations over which the two levels' predictive records are weighed
    optimistic: bool = True  # a draw never falls below the posterior mean (optimistic Thompson sampling)
    post_order_cusum: bool = True  # the CUSUM runs over outcomes in the order of their posts, not their reports
    cusum_window: int = 400  # outcomes per partner the post-ordered CUSUM keeps
    coupled_alarms: bool = True  # an acceptance alarm also forgets the partner's funding evidence before it
    partner_level: bool = True  # a level shared by all the partner's tiers (fast) + per-tier offsets (slow)
    tier_offset_var: float = 0.25  # prior variance of a partner's tier offset around the market's tier level
    level_path: bool = True  # the partner-wide level as a state over time (Kalman smoother), tiers fitted on it
    path_step_hours: float = 3.0  # time step of the partner-wide level's path
    path_drift: float = 0.03  # variance (log-odds²) the partner-wide level drifts per day (0: evidence fades)


class _Cell:
    __slots__ = ("n", "s", "t")

    def __init__(self) -> None:
        self.s = 0.0
        self.n = 0.0
        self.t = 0.0


class _Fit:
    """One partner's logistic model, fitted by MAP (coordinate Newton) on its own decayed observations."""

    __slots__ = ("at", "index", "jumps", "new", "path", "prior", "rows", "slow", "theta", "var")

    def __init__(self) -> None:
        # ("partner", "*") the partner-wide level, ("level", tier) the tier's level (its offset beside a
        # partner-wide level), (group, value) a lift → parameter
        self.index: dict[tuple[str, str], int] = {}
        self.theta: list[float] = []
        self.var: list[float] = []
        self.prior: list[tuple[float, float]] = []  # each parameter's prior (mean, variance) at the last fit
        # (parameters, y, time the weight is aged from, post time)
        self.rows: list[tuple[tuple[int, ...], float, float, float]] = []
        self.path: dict[int, float] = {}  # time step → the partner-wide level then (smoothed)
        self.jumps: list[float] = []  # post times of the changes the partner's alarms dated
        self.slow: dict[int, tuple[float, float]] = {}  # level parameter → (mean, variance) on slow evidence
        self.new = 0
        self.at = 0.0  # clock time of the last fit

    def param(self, key: tuple[str, str], mean: float, var: float) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.theta)
            self.theta.append(mean)
            self.var.append(var)
            self.prior.append((mean, var))
        return i

    def posterior(
        self, i: int, rate: float, at: float, prior_mean: float, fitted: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        """Parameter i's posterior at `at` under its prior now: the evidence of the last fit keeps decaying
        while the partner is not observed (discounted Thompson sampling discounts every arm, not only the
        one played), so a partner left out of the chains drifts back towards its prior and is explored again.
        `fitted` replaces the fit's own (mean, variance) of the parameter (a level's slow version)."""
        theta, var = fitted if fitted is not None else (self.theta[i], self.var[i])
        m0, v0 = self.prior[i]
        if v0 <= 0.0 or var <= 0.0:
            return theta, var
        evidence = max(1.0 / var - 1.0 / v0, 0.0)
        kept = evidence * math.exp(-rate * max(0.0, at - self.at))
        # the fit is prior ⊕ data in precision form: keep the data's mean, decay its precision, and combine
        # it with the prior as it is now (the market's rate moves on while the partner is not observed)
        data_mean = theta if evidence == 0.0 else (theta / var - m0 / v0) / evidence
        precision = 1.0 / v0 + kept
        return (prior_mean / v0 + kept * data_mean) / precision, 1.0 / precision


class RateModel:
    """One outcome (acceptance or funding) for all partners."""

    def __init__(self, priors: Priors) -> None:
        self.priors = priors
        self.decay = math.log(2) / (priors.half_life_days * DAY)
        self.level_decay = math.log(2) / (min(priors.level_half_life_days, priors.half_life_days) * DAY)
        self.cells: dict[tuple[str, ...], _Cell] = {}
        self.expected: dict[str, _Cell] = {}  # partner → (market-expected successes, trials): its overall lift
        self.fits: dict[str, _Fit] = {}
        self.tau2: dict[str, float] = {}
        self.cusum: dict[str, tuple[float, float]] = {}
        self.cusum_start: dict[str, tuple[float, float]] = {}  # post time each CUSUM last left zero
        self.cusum_log: dict[str, list[tuple[float, int, float, float]]] = {}  # (posted, seq, up, down) by post
        self.bias: dict[str, float] = {}
        self.em: dict[str, float] = {}  # partner|group → EM estimate of its own lift spread
        self.alarmed: dict[str, float] = {}  # partner → the change its last CUSUM alarm dated (post time)
        self.alarms = 0
        self.mix: dict[str, tuple[float, float]] = {}  # partner → (log-odds of its fast level over its slow, when)
        self._since_refresh = 0
        self._seen = 0
        self._reports = 0

    # --- counts (market level, partner lift, spread of lifts) ---

    def _read(self, key: tuple[str, ...], at: float) -> tuple[float, float]:
        c = self.cells.get(key)
        if c is None:
            return 0.0, 0.0
        f = math.exp(-self.decay * max(0.0, at - c.t))
        return c.s * f, c.n * f

    def _add(self, key: tuple[str, ...], at: float, success: float, trials: float) -> None:
        c = self.cells.get(key)
        if c is None:
            c = self.cells[key] = _Cell()
            c.t = at
        f = math.exp(-self.decay * max(0.0, at - c.t))
        c.s, c.n, c.t = c.s * f + success, c.n * f + trials, at

    def _tau2(self, partner_id: str, group: str) -> float:
        pooled = self.tau2.get(group, 0.0)
        if pooled <= 0.0:
            return 0.0
        key = f"{partner_id}|{group}"
        return max(self.tau2.get(key, pooled), self.em.get(key, 0.0))

    def _market(self, tier: str, at: float) -> float:
        s, n = self._read(("*", tier), at)
        return (s + 1.0) / (n + 2.0)

    def _level_prior(self, partner_id: str, tier: str, at: float) -> float:
        """Log-odds the partner is expected at in a tier before its own data there: the market's tier rate
        shifted by the partner's lift over the market across all its tiers (shrunk while it is young)."""
        return self._level_prior_at(partner_id, logit(self._market(tier, at)), at)

    def _partner_prior(self, partner_id: str, at: float) -> float:
        """The partner-wide level's prior mean: the partner's lift over the market across all its tiers."""
        return self._level_prior_at(partner_id, 0.0, at)

    def _level_prior_at(self, partner_id: str, market: float, at: float) -> float:
        p = self.priors
        s_all, n_all = self._read((partner_id,), at)
        e = self.expected.get(partner_id)
        if e is None or n_all <= 0:
            return market
        expect = e.s * math.exp(-self.decay * max(0.0, at - e.t))
        raw = logit((s_all + 0.5) / (n_all + 1.0)) - logit((expect + 0.5) / (n_all + 1.0))
        return market + raw * n_all / (n_all + p.partner_lift_prior)

    def _param_prior(self, partner_id: str, key: tuple[str, str], at: float) -> tuple[float, float]:
        """A parameter's prior (mean, variance). With a partner-wide level, that level carries the partner's
        lift over the market and each tier's level is an offset around the market's level of the tier."""
        p = self.priors
        if key[0] == "partner":
            # the level of a partner in a tier keeps its prior variance, split between the two parts
            return self._partner_prior(partner_id, at), p.level_var - p.tier_offset_var
        if key[0] == "level":
            if p.partner_level:
                return logit(self._market(key[1], at)), p.tier_offset_var
            return self._level_prior(partner_id, key[1], at), p.level_var
        return 0.0, self._tau2(partner_id, key[0])

    @staticmethod
    def _raw_lift(s: float, n: float, parent_n: float, base: float) -> tuple[float, float]:
        """A cell's log-odds against its partner level, and the sampling variance of that difference (the
        cell is part of the level's data, so the difference varies less than the cell alone)."""
        raw = logit((s + 0.5) / (n + 1.0)) - logit(base)
        se2 = max(1.0 / (n + 1.0) - 1.0 / (parent_n + 1.0), 0.05 / (n + 1.0)) / (base * (1 - base))
        return raw, se2

    # --- estimate ---

    def _terms(
        self, partner_id: str, features: tuple[tuple[str, str], ...], at: float
    ) -> list[tuple[float, float, float]]:
        """(mean, variance, prior variance) of the lead's level and of each of its lifts, log-odds."""
        fit = self.fits.get(partner_id)
        tier = features[0][1]
        terms = [(*self._level(partner_id, tier, at), self.priors.level_var)]
        for key in features[1:]:
            tau2 = self._tau2(partner_id, key[0])
            if tau2 <= 0.0:
                continue
            j = fit.index.get(key) if fit else None
            if fit is not None and j is not None:
                terms.append((*fit.posterior(j, self.decay, at, 0.0), tau2))
            else:
                terms.append((0.0, tau2, tau2))
        return terms

    def _shared_levels(
        self, partner_id: str, tier: str, at: float
    ) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The partner-wide level (fast evidence, and its slow version) plus the tier's offset (slow
        evidence), or None before the partner's first outcome."""
        fit = self.fits.get(partner_id)
        i = fit.index.get(("partner", "*")) if fit else None
        if fit is None or i is None:
            return None
        j = fit.index.get(("level", tier))
        if j is None:
            mb, vb = self._param_prior(partner_id, ("level", tier), at)
        else:
            mb, vb = fit.posterior(j, self.decay, at, logit(self._market(tier, at)))
        prior = self._partner_prior(partner_id, at)
        mf, vf = fit.posterior(i, self.level_decay, at, prior)
        slow = fit.slow.get(i)
        if slow is None or not self.priors.level_mix:
            return (mf + mb, vf + vb), (mf + mb, vf + vb)
        ms, vs = fit.posterior(i, self.level_decay, at, prior, slow)
        return (mf + mb, vf + vb), (ms + mb, vs + vb)

    def _levels(self, partner_id: str, tier: str, at: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The partner's level in the tier as (mean, variance), fast and slow, or None before its data there."""
        if self.priors.partner_level:
            return self._shared_levels(partner_id, tier, at)
        fit = self.fits.get(partner_id)
        i = fit.index.get(("level", tier)) if fit else None
        if fit is None or i is None:
            return None
        prior = self._level_prior(partner_id, tier, at)
        fast = fit.posterior(i, self.level_decay, at, prior)
        slow = fit.slow.get(i)
        if slow is None or not self.priors.level_mix:
            return fast, fast
        # between fits the slow level's evidence fades at the level's pace too: a partner left out of the
        # chains becomes uncertain again as fast as without it, a partner observed all along keeps its record
        return fast, fit.posterior(i, self.level_decay, at, prior, slow)

    def _log_odds_fast(self, partner_id: str, at: float) -> float:
        """Dynamic model averaging (Raftery, Kárný & Ettler, 2010) of the fast and the slow level: each is
        weighted by its discounted predictive likelihood on the partner's recent outcomes, so a partner whose
        appetite moves is read on its recent evidence and a steady one on its long record. The record fades
        with clock time too (at the level's pace): a partner not observed for a while is back to even odds."""
        record, since = self.mix.get(partner_id, (0.0, at))
        return record * math.exp(-self.level_decay * max(0.0, at - since))

    def _level(self, partner_id: str, tier: str, at: float) -> tuple[float, float]:
        """The level's (mean, variance): the mixture of the fast and the slow level, moment-matched."""
        pair = self._levels(partner_id, tier, at)
        if pair is None:
            return self._level_prior(partner_id, tier, at), self.priors.level_var
        (mf, vf), (ms, vs) = pair
        w = sigmoid(self._log_odds_fast(partner_id, at))
        mean = w * mf + (1.0 - w) * ms
        return mean, w * vf + (1.0 - w) * vs + w * (1.0 - w) * (mf - ms) ** 2

    def _score_levels(self, partner_id: str, features: Features, at: float, y: float) -> None:
        """Updates the two levels' discounted log-likelihoods with the outcome each predicted."""
        pair = self._levels(partner_id, features[0][1], at)
        if pair is None or pair[0] == pair[1]:
            return
        rest = sum(m for m, _, _ in self._terms(partner_id, features, at)[1:])
        keep = 1.0 - 1.0 / self.priors.mix_memory
        fast, slow = (min(max(sigmoid(m + rest), 1e-4), 1 - 1e-4) for m, _ in pair)
        gain = math.log(fast / slow) if y else math.log((1.0 - fast) / (1.0 - slow))
        self.mix[partner_id] = (keep * self._log_odds_fast(partner_id, at) + gain, at)

    def probability(
        self, partner_id: str, features: tuple[tuple[str, str], ...], at: float, rng: random.Random | None
    ) -> float:
        """The posterior mean, or a Thompson draw: each term from its posterior with its spread scaled by
        `explore`, the level's only once its data outweighs its prior (full spread while it is mostly prior)."""
        terms = self._terms(partner_id, features, at)
        if rng is None:
            return sigmoid(sum(m for m, _, _ in terms))
        explore = self.priors.explore
        mean, noise = 0.0, 0.0
        for k, (m, v, v0) in enumerate(terms):
            # the level explores fully while it is mostly prior; lifts (and a known level) at `explore`
            scale = explore + (1.0 - explore) * min(1.0, v / v0) if k == 0 and v0 > 0 else explore
            mean += m
            noise += rng.gauss(0.0, 1.0) * math.sqrt(v) * scale
        if self.priors.optimistic:
            noise = max(noise, 0.0)  # exploration lifts a partner's draw; it never demotes the best estimate
        return sigmoid(mean + noise)

    # --- learn ---

    def observe(
        self,
        partner_id: str,
        features: tuple[tuple[str, str], ...],
        at: float,
        success: bool,
        posted_at: float | None = None,
    ) -> None:
        """One outcome reported at `at` about a lead posted at `posted_at` (funding reports come late: the
        fit dates them by the post, and one posted before the change the partner's last alarm dated counts as old)."""
        tier = features[0][1]
        y = 1.0 if success else 0.0
        posted = at if posted_at is None else min(posted_at, at)
        self._score_levels(partner_id, features, at, y)
        self._watch(partner_id, y, self.probability(partner_id, features, at, None), at, posted)
        market = self._market(tier, at)
        e = self.expected.get(partner_id)
        if e is None:
            e = self.expected[partner_id] = _Cell()
            e.t = at
        f = math.exp(-self.decay * max(0.0, at - e.t))
        e.s, e.n, e.t = e.s * f + market, e.n * f + 1.0, at
        self._add(("*", tier), at, y, 1.0)
        self._add((partner_id,), at, y, 1.0)
        self._add((partner_id, tier), at, y, 1.0)
        for group, value in features[1:]:
            self._add((partner_id, tier, group, value), at, y, 1.0)
        fit = self.fits.setdefault(partner_id, _Fit())
        keys = [("level", tier), *features[1:]]
        if self.priors.partner_level:
            keys.insert(0, ("partner", "*"))
        params = [fit.param(key, *self._param_prior(partner_id, key, at)) for key in keys]
        if self._uses_path():
            params = params[1:]  # the partner-wide level enters each row through its path, by time
        when = posted
        if when < self.alarmed.get(partner_id, -math.inf):
            when -= self._alarm_age()
        fit.rows.append((tuple(params), y, when, posted))
        fit.new += 1
        if fit.new >= max(4, 0.1 * len(fit.rows)):
            self._fit(partner_id, fit, at)
        self._since_refresh += 1
        self._seen += 1
        if self._since_refresh >= min(500, max(50, self._seen // 5)):
            self._refresh_tau2(at)

    def _fit(self, partner_id: str, fit: _Fit, at: float, sweeps: int = 2) -> None:
        """MAP of the partner's levels and lifts on its decayed rows: level ~ N(level prior, level_var),
        lift ~ N(0, τ² of its group); coordinate Newton steps, each parameter's variance 1 / curvature."""
        fit.new = 0
        decay = self.decay
        fit.rows = [r for r in fit.rows if decay * (at - r[2]) < 4.0]  # weight below 2% is dropped
        rows = fit.rows
        weights = [math.exp(-decay * (at - r[2])) for r in rows]
        # levels move faster than effects: their evidence halves in `level_half_life_days`; with a partner-wide
        # level only that one is fast (a change of the partner's appetite hits all its tiers), the tiers'
        # offsets from it move at the effects' pace
        fast = [math.exp(-self.level_decay * (at - r[2])) for r in rows]
        fast_key = "partner" if self.priors.partner_level else "level"
        is_level = [key[0] == fast_key for key, _ in sorted(fit.index.items(), key=lambda kv: kv[1])]
        members: list[list[int]] = [[] for _ in fit.theta]
        for i, row in enumerate(rows):
            for c in row[0]:
                members[c].append(i)
        mean: list[float] = []
        var: list[float] = []
        for key, _ in sorted(fit.index.items(), key=lambda kv: kv[1]):
            m, v = self._param_prior(partner_id, key, at)
            mean.append(m)
            var.append(v)
        fit.prior = list(zip(mean, var, strict=True))
        fit.at = at
        theta = fit.theta
        path = self._uses_path()
        offsets = self._path_offsets(fit) if path else [0.0] * len(rows)
        scores = [sum(theta[c] for c in row[0]) + o for row, o in zip(rows, offsets, strict=True)]
        probs = [sigmoid(x) for x in scores]
        for _ in range(sweeps):
            if path:
                self._fit_path(fit, at, scores, probs)
            for c, rows_c in enumerate(members):
                if path and is_level[c]:
                    continue  # fitted as a path over time (_fit_path)
                wts = fast if is_level[c] else weights
                if var[c] <= 0.0:
                    theta[c], fit.var[c] = 0.0, 0.0
                    continue
                grad = -(theta[c] - mean[c]) / var[c]
                curv = 1.0 / var[c]
                for i in rows_c:
                    p = probs[i]
                    w = wts[i]
                    grad += w * (rows[i][1] - p)
                    curv += w * p * (1.0 - p)
                step = max(-2.0, min(2.0, grad / curv))
                theta[c] += step
                fit.var[c] = 1.0 / curv
                if step:
                    for i in rows_c:
                        scores[i] += step
                        probs[i] = sigmoid(scores[i])
        if path:
            self._fit_path(fit, at, scores, probs)
        elif self.priors.level_mix:
            self._fit_slow_levels(fit, members, is_level, mean, var, weights, scores)
        self._em_spread(partner_id, fit, members, var)

    def _uses_path(self) -> bool:
        return self.priors.partner_level and self.priors.level_path

    def _step(self, t: float) -> int:
        return math.floor(t / (self.priors.path_step_hours * 3600.0))

    def _path_offsets(self, fit: _Fit) -> list[float]:
        """Each row's partner-wide level at its post time (the last fitted path; its last value after it)."""
        i = fit.index[("partner", "*")]
        last = fit.theta[i]
        return [fit.path.get(self._step(r[3]), last) for r in fit.rows]

    def _fit_path(self, fit: _Fit, at: float, scores: list[float], probs: list[float]) -> None:
        """The partner-wide level as a state that moves over time: one Gauss-Newton step of its path
        (each time step's outcomes linearised at the current path, a Kalman filter forward and a
        Rauch-Tung-Striebel smoother back). Between steps the state's evidence fades at the level's pace and
        an alarm's dated change fades it further, as the rows' weights do; the tier offsets and lifts are
        then fitted against the level that held when each row was observed, so an old row tells how the
        partner's tiers differ, not where the partner is now."""
        i = fit.index[("partner", "*")]
        rows = fit.rows
        if not rows:
            return
        grad: dict[int, float] = {}
        curv: dict[int, float] = {}
        for r, p in zip(rows, probs, strict=True):
            k = self._step(r[3])
            grad[k] = grad.get(k, 0.0) + r[1] - p
            curv[k] = curv.get(k, 0.0) + p * (1.0 - p)
        first, last = min(grad), max(self._step(at), max(grad))
        old = {k: fit.path.get(k, fit.theta[i]) for k in range(first, last + 1)}
        obs = {k: (old[k] + grad[k] / curv[k], curv[k]) for k in grad if curv[k] > 1e-9}
        m0, v0 = fit.prior[i]
        step_s = self.priors.path_step_hours * 3600.0
        fit.jumps = [t for t in fit.jumps if self._step(t) >= first]  # changes older than every row
        jumps = {self._step(t) for t in fit.jumps}
        keep = self.priors.alarm_keep
        ratio = self.level_decay / self.decay
        drift = self.priors.path_drift * step_s / DAY
        fade = math.exp(-self.level_decay * step_s)
        smooth, end = level_path.smooth(obs, first, last, m0, v0, (fade, drift), jumps, keep**ratio)
        new = {k: old[k] + max(-2.0, min(2.0, smooth[k] - old[k])) for k in smooth}
        fit.path = new
        for n, r in enumerate(rows):
            k = self._step(r[3])
            d = new[k] - old[k]
            if d:
                scores[n] += d
                probs[n] = sigmoid(scores[n])
        fit.theta[i], fit.var[i] = end
        slow = (math.exp(-self.decay * step_s), drift * (self.level_decay / self.decay) ** -2)
        _, slow_end = level_path.smooth(obs, first, last, m0, v0, slow, jumps, keep)
        fit.slow[i] = slow_end

    def _em_spread(self, partner_id: str, fit: _Fit, members: list[list[int]], var: list[float]) -> None:
        """EM step for the spread of the partner's own lifts per group: mean of θ² + its variance over the
        values seen. It grows towards a real effect's size over the refits and stays small for a group
        that does nothing (its lifts stay shrunk), so it complements the pooled estimate."""
        theta = fit.theta
        spread: dict[str, list[float]] = {}
        for key, c in fit.index.items():
            if key[0] not in ("level", "partner") and members[c] and var[c] > 0:
                acc = spread.setdefault(key[0], [0.0, 0.0])
                acc[0] += theta[c] ** 2 + fit.var[c]
                acc[1] += 1
        for group, (total, count) in spread.items():
            if count >= 2:
                self.em[f"{partner_id}|{group}"] = min(total / count, 2.0)

    @staticmethod
    def _fit_slow_levels(
        fit: _Fit,
        members: list[list[int]],
        is_level: list[bool],
        mean: list[float],
        var: list[float],
        weights: list[float],
        scores: list[float],
    ) -> None:
        """Each level refitted alone on the slow (effects') weights, the lifts held at the joint fit: the
        level a steady partner is read at, its long record counted."""
        rows = fit.rows
        for c, rows_c in enumerate(members):
            if not is_level[c] or var[c] <= 0.0:
                continue
            rest = [scores[i] - fit.theta[c] for i in rows_c]
            t = fit.slow[c][0] if c in fit.slow else fit.theta[c]
            curv = 1.0 / var[c]
            for _ in range(3):
                grad = -(t - mean[c]) / var[c]
                curv = 1.0 / var[c]
                for i, r in zip(rows_c, rest, strict=True):
                    p = sigmoid(r + t)
                    grad += weights[i] * (rows[i][1] - p)
                    curv += weights[i] * p * (1.0 - p)
                t += max(-2.0, min(2.0, grad / curv))
            fit.slow[c] = (t, 1.0 / curv)

    def _watch(self, partner_id: str, y: float, predicted: float, at: float, posted: float) -> None:
        """Bernoulli CUSUMs of the log-likelihood ratio of the estimate shifted by ±`cusum_shift` log-odds
        against the estimate; an alarm forgets most of the partner's history from before the change (its
        appetite has moved). The change is dated where the alarming CUSUM last left zero (its maximum
        likelihood change point), by the post time of the lead then observed: evidence posted since then is
        already about the new appetite and is kept whole."""
        p = self.priors
        # Against the estimate corrected by the partner's standing bias (a slow average of its residuals):
        # the CUSUM looks for a change, not for the misfit a selected stream of leads always shows.
        bias = self.bias.get(partner_id, 0.0)
        self.bias[partner_id] = bias + (y - predicted - bias) / p.bias_memory
        q = min(max(predicted + bias, 1e-3), 1 - 1e-3)
        hi, lo = sigmoid(logit(q) + p.cusum_shift), sigmoid(logit(q) - p.cusum_shift)
        if y:
            inc_up, inc_down = math.log(hi / q), math.log(lo / q)
        else:
            inc_up, inc_down = math.log((1 - hi) / (1 - q)), math.log((1 - lo) / (1 - q))
        if p.post_order_cusum:
            self._watch_in_post_order(partner_id, inc_up, inc_down, at, posted)
            return
        up, down = self.cusum.get(partner_id, (0.0, 0.0))
        start_up, start_down = self.cusum_start.get(partner_id, (posted, posted))
        up, down = max(0.0, up + inc_up), max(0.0, down + inc_down)
        start_up = posted if up == 0.0 else start_up
        start_down = posted if down == 0.0 else start_down
        if up > p.cusum_threshold or down > p.cusum_threshold:
            self.alarms += 1
            self._forget(partner_id, at, start_up if up > p.cusum_threshold else start_down)
            up = down = 0.0
            start_up = start_down = posted
        self.cusum[partner_id] = (up, down)
        self.cusum_start[partner_id] = (start_up, start_down)

    def _watch_in_post_order(self, partner_id: str, inc_up: float, inc_down: float, at: float, posted: float) -> None:
        """The two CUSUMs over the partner's outcomes in the order of their posts. A funding outcome comes
        hours after its post: in the order of the reports, outcomes of leads posted before a change keep
        arriving after it and pull the statistic back to zero while the first outcomes of the new appetite
        come in. Page's CUSUM is the largest sum of increments over a suffix of the sequence, so it is
        recomputed over the post-ordered log whenever an outcome is inserted in its place; on a stream
        reported in post order this is the usual recursion. The maximising suffix dates the change."""
        p = self.priors
        log = self.cusum_log.setdefault(partner_id, [])
        self._reports += 1  # ties of post time keep the order of the reports
        bisect.insort(log, (posted, self._reports, inc_up, inc_down))
        if len(log) > p.cusum_window:
            del log[0]
        up = down = best_up = best_down = 0.0
        start_up = start_down = posted
        for when, _, u, d in reversed(log):
            up += u
            down += d
            if up > best_up:
                best_up, start_up = up, when
            if down > best_down:
                best_down, start_down = down, when
        if best_up > p.cusum_threshold or best_down > p.cusum_threshold:
            self.alarms += 1
            self._forget(partner_id, at, start_up if best_up > p.cusum_threshold else start_down)
            log.clear()

    def _alarm_age(self) -> float:
        """How much older evidence from before an alarm is made: its weight drops to `alarm_keep`."""
        return math.log(1 / self.priors.alarm_keep) / self.decay

    def forget(self, partner_id: str, at: float, since: float) -> None:
        """Forgets most of the partner's evidence posted before `since` (a change the other outcome saw)."""
        if partner_id in self.fits:
            self.alarms += 1
            self._forget(partner_id, at, since)

    def _forget(self, partner_id: str, at: float, since: float) -> None:
        self.alarmed[partner_id] = since
        self.bias[partner_id] = 0.0  # the misfit that built up was the change itself, not a standing bias
        # the slow level still holds the old appetite: read the partner on its fast level until the slow one
        # has earned its weight back on outcomes from after the change: odds of 1 against the share of the
        # old evidence the alarm leaves in the fast level (alarm_keep to the power of the half-lives' ratio)
        ratio = self.level_decay / self.decay
        self.mix[partner_id] = (math.log(1.0 / self.priors.alarm_keep) * ratio, at)
        keep = self.priors.alarm_keep
        for key, c in self.cells.items():
            if key[0] == partner_id:
                c.s *= keep
                c.n *= keep
        e = self.expected.get(partner_id)
        if e is not None:
            e.s *= keep
            e.n *= keep
        fit = self.fits.get(partner_id)
        if fit is not None:
            age = self._alarm_age()  # as if the rows were that much older
            fit.rows = [(params, y, t - age if t < since else t, s) for params, y, t, s in fit.rows]
            fit.jumps.append(since)
            self._fit(partner_id, fit, at)

    def _refresh_tau2(self, at: float) -> None:
        """Empirical Bayes: each group's variance of true lifts, by the DerSimonian-Laird random-effects
        estimator pooled over partners and tiers — the spread of a partner's cell log-odds across the
        group's values beyond what their sampling noise explains. A group that does not matter gets ≈ 0."""
        self._since_refresh = 0
        cells: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        for key in list(self.cells):
            if len(key) != 4:
                continue
            s, n = self._read(key, at)
            if n < 5:
                continue
            rate = (s + 0.5) / (n + 1.0)
            cells.setdefault(key[:3], []).append((logit(rate), (n + 1.0) * rate * (1 - rate)))
        stats: dict[tuple[str, str], Heterogeneity] = {}  # (partner or "*", group) → Q, df, C summed
        for (partner_id, _, group), xs in cells.items():
            if len(xs) < 2:
                continue
            terms = heterogeneity(xs)
            for owner in (partner_id, "*"):
                stats[(owner, group)] = stats.get((owner, group), NO_HETEROGENEITY).plus(terms)
        floor = self.priors.min_tau2
        pooled = {g: h.tau2(floor) for (o, g), h in stats.items() if o == "*"}
        self.tau2 = dict(pooled)
        for (owner, group), h in stats.items():
            # A partner's own spread replaces the pooled one only when its heterogeneity is significant (Q − df
            # beyond two standard deviations of its null distribution): one partner's strong effect is not
            # diluted by partners on which the group does nothing, and noise does not pass for an effect.
            if owner != "*" and h.c > 0 and h.q - h.df > self.priors.own_spread_z * math.sqrt(2.0 * h.df):
                self.tau2[f"{owner}|{group}"] = max(pooled.get(group, floor), (h.q - h.df) / h.c)


POST, OUTCOME = "post", "outcome"


@dataclass(frozen=True)
class Observation:
    """One thing the estimator learns from, as the router logs it (so a restart replays what was learned):
    a post's verdict (kind POST: the lead's features, the price, accepted or not, the decision time) or the
    funding outcome of an accepted lead (kind OUTCOME: funded or not). `at` is the clock time in seconds."""

    kind: str
    lead_id: str
    partner_id: str
    success: bool
    at: float
    features: Features = ()
    price_fen: int = 0
    decision_ms: float | None = None


@dataclass
class _Pending:
    partner_id: str
    features: tuple[tuple[str, str], ...]
    posted_at: float


@dataclass
class ContextualEstimator:
    """The learned policy's beliefs (implements selection.Estimator)."""

    priors: Priors = field(default_factory=Priors)
    accept: RateModel = field(init=False)
    fund: RateModel = field(init=False)
    post_ms: dict[str, float] = field(default_factory=dict)  # running mean decision time per partner
    bid_ref: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # log bid mean, variance
    pending: dict[str, _Pending] = field(default_factory=dict)  # lead id → accepted, outcome not yet reported

    def __post_init__(self) -> None:
        self.accept = RateModel(self.priors)
        self.fund = RateModel(self.priors)

    def _features(
        self, partner_id: str, applicant: LeadApplicant, price_fen: int, learn: bool
    ) -> tuple[tuple[str, str], ...]:
        return (*lead_features(applicant), ("bid", self._bid_band(partner_id, applicant.tier, price_fen, learn)))

    def _bid_band(self, partner_id: str, tier: str, price_fen: int, learn: bool) -> str:
        """Where the bid sits in the partner's usual range for the tier (its running mean and spread of log
        bids): a partner may bid more for the leads it means to fund."""
        if price_fen <= 0:
            return "none"
        x = math.log(price_fen)
        ref = self.bid_ref.get((partner_id, tier))
        if ref is None:
            if learn:
                self.bid_ref[(partner_id, tier)] = (x, 0.01)
            return "mid"
        mean, var = ref
        z = (x - mean) / math.sqrt(var) if var > 0 else 0.0
        if learn:
            d = x - mean
            self.bid_ref[(partner_id, tier)] = (mean + 0.02 * d, max(var + 0.02 * (d * d - var), 1e-6))
        for edge, band in ((-1.0, "low"), (-0.35, "below"), (0.35, "mid"), (1.0, "above")):
            if z < edge:
                return band
        return "high"

    def belief(
        self, partner_id: str, applicant: LeadApplicant, price_fen: int, at: float, rng: random.Random | None
    ) -> Belief:
        features = self._features(partner_id, applicant, price_fen, learn=False)
        return Belief(
            self.accept.probability(partner_id, features, at, rng),
            self.fund.probability(partner_id, features, at, rng),
            self.post_ms.get(partner_id, 0.0),
        )

    @property
    def memory_s(self) -> float:
        """Evidence older than this weighs under 2% and is dropped: what a restart needs to replay."""
        return 4.0 * max(self.priors.half_life_days, self.priors.level_half_life_days) * DAY / math.log(2)

    def apply(self, o: Observation) -> None:
        """Learns one logged observation (a post's verdict or a funding outcome)."""
        if o.kind == POST:
            self.observe_post_features(
                o.lead_id, o.partner_id, o.features, o.price_fen, accepted=o.success, at=o.at, decision_ms=o.decision_ms
            )
        elif o.kind == OUTCOME:
            self.observe_outcome(o.lead_id, funded=o.success, at=o.at)

    def observe_post(
        self,
        lead_id: str,
        partner_id: str,
        applicant: LeadApplicant,
        price_fen: int,
        *,
        accepted: bool,
        at: float,
        decision_ms: float | None = None,
    ) -> None:
        """A post's verdict. An accepted lead waits (pending) for its funding outcome."""
        self.observe_post_features(
            lead_id, partner_id, lead_features(applicant), price_fen, accepted=accepted, at=at, decision_ms=decision_ms
        )

    def observe_post_features(
        self,
        lead_id: str,
        partner_id: str,
        lead: Features,
        price_fen: int,
        *,
        accepted: bool,
        at: float,
        decision_ms: float | None = None,
    ) -> None:
        """observe_post for a lead known by its bands (`band_features`), as the dispatcher knows it."""
        tier = lead[0][1]
        features = (*lead, ("bid", self._bid_band(partner_id, tier, price_fen, True)))
        alarmed = self.accept.alarmed.get(partner_id)
        self.accept.observe(partner_id, features, at, accepted)
        since = self.accept.alarmed.get(partner_id)
        if self.priors.coupled_alarms and since is not None and since != alarmed:
            # a partner whose acceptance moved has most likely changed its funding policy with it
            self.fund.forget(partner_id, at, since)
        if decision_ms is not None:
            old = self.post_ms.get(partner_id)
            self.post_ms[partner_id] = decision_ms if old is None else old + 0.05 * (decision_ms - old)
        if accepted:
            self.pending[lead_id] = _Pending(partner_id, features, at)

    def observe_outcome(self, lead_id: str, *, funded: bool, at: float) -> bool:
        """The funding outcome of an accepted lead (FUNDED, or REJECTED/RETURNED). False if not pending."""
        p = self.pending.pop(lead_id, None)
        if p is None:
            return False
        self.fund.observe(p.partner_id, p.features, at, funded, posted_at=p.posted_at)
        return True

    def pending_by_partner(self) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for p in self.pending.values():
            counts[p.partner_id] = counts.get(p.partner_id, 0) + 1
        return counts
