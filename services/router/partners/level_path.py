"""A partner's level as a path over time: Kalman filter and Rauch-Tung-Striebel smoother over fixed steps.

The router's estimator (estimates.py) reads each outcome against the partner-wide level at the time its
lead was posted; this module computes that path from per-step pseudo-observations. Two ways a level may
move between steps: a mean-reverting random walk that is stationary at the prior N(m0, v0) (`drift` > 0:
the predicted variance is g²·v + (1 − g²)·v0 with g² = 1 − drift/v0), or evidence beyond the prior fading
by `fade` a step (`drift` == 0). At a step where a change was dated (`jumps`), the evidence kept is
multiplied by `jump_keep` as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def smooth(
    obs: Mapping[int, tuple[float, float]],
    first: int,
    last: int,
    m0: float,
    v0: float,
    move: tuple[float, float],
    jumps: set[int],
    jump_keep: float,
) -> tuple[dict[int, float], tuple[float, float]]:
    """Kalman filter and RTS smoother of a level whose evidence (precision beyond the prior N(m0, v0))
    is multiplied by `fade` each step (by `jump_keep` more at a dated change) while its mean is the
    prior combined with that evidence; obs: step → (pseudo-observation, precision). Returns the smoothed
    path and the last step's filtered (mean, variance)."""
    p0 = 1.0 / v0
    m, prec = m0, p0
    filt: list[tuple[float, float]] = []
    pred: list[tuple[float, float, float]] = []  # (predicted mean, predicted variance, transition gain)
    for k in range(first, last + 1):
        if k > first:
            fade, drift = move
            jump = jump_keep if k in jumps else 1.0
            if drift > 0.0:  # mean-reverting random walk, stationary at the prior
                gain = math.sqrt(max(0.0, 1.0 - drift / v0))
                p_pred = 1.0 / min(v0, (gain * gain / prec + (1.0 - gain * gain) * v0) / jump)
            else:
                lam = fade * jump
                p_pred = p0 + lam * max(prec - p0, 0.0)
                gain = lam * prec / p_pred  # the predicted mean is m0 + gain (m - m0)
            m = m0 + gain * (m - m0)
            prec = p_pred
            pred.append((m, 1.0 / p_pred, gain))
        z = obs.get(k)
        if z is not None:
            m = (m * prec + z[0] * z[1]) / (prec + z[1])
            prec += z[1]
        filt.append((m, 1.0 / prec))
    path = [filt[-1][0]]
    for n in range(len(filt) - 2, -1, -1):
        mf, vf = filt[n]
        mp, vp, gain = pred[n]
        path.append(mf + vf * gain / vp * (path[-1] - mp))
    path.reverse()
    return {first + n: x for n, x in enumerate(path)}, filt[-1]
