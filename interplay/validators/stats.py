"""Paired statistics over seeds, the smallest effect of interest, and the observed direction (the verdict rule is
:mod:`interplay.verdicts`).

The smallest effect of interest is one rule for every probe, computed from the baseline arm alone: a tenth of
the baseline's distance from the probe's chance level (the score of an attack that learns nothing), and never
below 0.01, the resolution of scores measured on a few hundred to a few thousand records. A baseline far from
chance (ASR 0.99) thus needs a larger change than one near it (membership AUC 0.52).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from interplay.verdicts import ALPHA, classify

HEADROOM_SHARE, MIN_EFFECT_FLOOR = 0.1, 0.01
POWER = 0.8


@dataclass(frozen=True)
class PairedEffect:
    """Defended minus baseline, paired by seed."""

    baseline: float
    defended: float
    difference: float
    ci95: tuple[float, float]
    p_value: float
    n: int
    wilcoxon_p: float = 1.0  # Wilcoxon signed-rank test, a robustness check beside the t-test
    mde: float = 0.0  # the minimal detectable effect at 80% power (two-sided, alpha 0.05)

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
        lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=sem)
        ci = (float(lo), float(hi))
    return PairedEffect(float(b.mean()), float(d.mean()), mean, ci, p, n, _wilcoxon(diff), _mde(diff))


def _wilcoxon(diff: np.ndarray) -> float:
    if len(diff) < 2 or not diff.any():
        return 1.0
    return float(stats.wilcoxon(diff).pvalue)


def _mde(diff: np.ndarray) -> float:
    """(t_{1-alpha/2} + t_power) * SD / sqrt(n): the smallest true mean difference the t-test detects at 80% power."""
    n = len(diff)
    if n < 2:
        return float("inf")
    t = stats.t.ppf(1 - ALPHA / 2, n - 1) + stats.t.ppf(POWER, n - 1)
    return float(t * diff.std(ddof=1) / np.sqrt(n))


def min_effect(baseline: float, chance: float) -> float:
    """The smallest effect of interest (see the module docstring)."""
    return max(MIN_EFFECT_FLOOR, HEADROOM_SHARE * abs(baseline - chance))


def direction(e: PairedEffect, min_effect: float) -> str:
    """``increase``/``decrease`` when significant (p < 0.05) and at least ``min_effect`` in size, else ``none``."""
    return classify(e.p_value, e.difference, e.ci95, min_effect)[0]


def evidence(e: PairedEffect, min_effect: float) -> str:
    """``significant``, ``equivalent`` or ``underpowered`` (:func:`interplay.verdicts.classify`)."""
    return classify(e.p_value, e.difference, e.ci95, min_effect)[1]
