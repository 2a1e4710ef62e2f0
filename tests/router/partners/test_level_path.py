"""The partner level's path: the Kalman filter and RTS smoother against the exact Gaussian posterior."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.router.partners.level_path import smooth


def _dense_posterior(
    obs: dict[int, tuple[float, float]], steps: int, m0: float, v0: float, drift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of a stationary AR(1) level (variance v0, correlation g a step with
    g² = 1 − drift / v0) given noisy looks at some steps, by linear algebra over the whole path."""
    g = np.sqrt(1.0 - drift / v0)
    k = np.arange(steps)
    prior = v0 * g ** np.abs(k[:, None] - k[None, :])
    seen = sorted(obs)
    h = np.zeros((len(seen), steps))
    for row, step in enumerate(seen):
        h[row, step] = 1.0
    noise = np.diag([1.0 / obs[s][1] for s in seen])
    z = np.array([obs[s][0] for s in seen])
    gain = prior @ h.T @ np.linalg.inv(h @ prior @ h.T + noise)
    return m0 + gain @ (z - m0), prior - gain @ h @ prior


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_smoothed_path_is_the_exact_posterior_of_a_mean_reverting_level(seed: int) -> None:
    rng = random.Random(seed)
    steps, m0, v0, drift = 30, -0.4, 0.5, 0.03
    obs = {s: (rng.gauss(0.5, 1.0), rng.uniform(0.5, 20.0)) for s in sorted(rng.sample(range(steps), 12))}
    path, (end_mean, end_var) = smooth(obs, 0, steps - 1, m0, v0, (1.0, drift), set(), 1.0)
    mean, cov = _dense_posterior(obs, steps, m0, v0, drift)
    assert [path[s] for s in range(steps)] == pytest.approx(list(mean), abs=1e-9)
    assert (end_mean, end_var) == pytest.approx((mean[-1], cov[-1, -1]), abs=1e-9)


def test_without_evidence_the_level_stays_at_its_prior() -> None:
    for move in ((0.9, 0.0), (1.0, 0.05)):
        path, end = smooth({}, 3, 10, 0.2, 0.5, move, {5}, 0.2)
        assert set(path) == set(range(3, 11))
        assert all(x == pytest.approx(0.2) for x in path.values())
        assert end == pytest.approx((0.2, 0.5))
