"""Paired statistics over seeds, the observed direction and the verdict rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class PairedEffect:
    """Defended minus baseline, paired by seed."""

    baseline: float
    defended: float
    difference: float
    ci95: tuple[float, float]
    p_value: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self) | {"ci95": list(self.ci95)}


def paired_effect(baseline: list[float], defended: list[float]) -> PairedEffect:
    """Mean paired difference, its 95% t-interval and the two-sided paired t-test p-value."""
    b, d = np.asarray(baseline, float), np.asarray(defended, float)
    diff = d - b
    n, mean = len(diff), float(diff.mean())
    sem = float(stats.sem(diff)) if n > 1 else float("nan")
    if n < 2 or sem == 0:  # identical differences: no spread, the t-test is undefined
        p = 1.0 if mean == 0 else 0.0
        ci = (mean, mean)
    else:
        p = float(stats.ttest_rel(d, b).pvalue)
        ci = tuple(float(v) for v in stats.t.interval(0.95, n - 1, loc=mean, scale=sem))
    return PairedEffect(float(b.mean()), float(d.mean()), mean, ci, p, n)


def direction(e: PairedEffect, min_effect: float) -> str:
    """``increase``/``decrease`` when significant (p < 0.05) and at least ``min_effect`` in size, else ``none``."""
    if e.p_value < ALPHA and abs(e.difference) >= min_effect:
        return "increase" if e.difference > 0 else "decrease"
    return "none"


def verdict(prediction: str, observed: str, e: PairedEffect, min_effect: float, defense_effective: bool | None) -> str:
    """Judge the reasoner's ``prediction`` against the measured effect.

    - ``inconclusive`` when the defense did not work (``defense_effective`` is False: no significant
      decrease on any of its intended risks), or the prediction is ``ambiguous``/``unknown``.
    - ``confirmed`` when the observed direction equals a predicted ``increase``/``decrease``; for a
      predicted ``none``, when nothing significant was observed and the whole 95% CI lies within
      +-``min_effect`` (an equivalence test, so lack of power does not confirm "no effect").
    - ``refuted`` when a significant effect goes against the prediction, or when an effect was
      predicted, none was observed, and the 95% CI rules out an effect of ``min_effect`` in the
      predicted direction.
    - ``inconclusive`` otherwise (an effect was predicted, none observed, the CI is too wide).
    """
    if defense_effective is False or prediction not in ("increase", "decrease", "none"):
        return "inconclusive"
    lo, hi = e.ci95
    if prediction == "none":
        if observed != "none":
            return "refuted"
        return "confirmed" if -min_effect < lo and hi < min_effect else "inconclusive"
    if observed == prediction:
        return "confirmed"
    if observed != "none":
        return "refuted"
    ruled_out = hi < min_effect if prediction == "increase" else lo > -min_effect
    return "refuted" if ruled_out else "inconclusive"
