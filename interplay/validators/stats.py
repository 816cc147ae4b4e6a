"""Paired statistics over seeds and the observed direction (the verdict rule is :mod:`interplay.verdicts`)."""

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
        lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=sem)
        ci = (float(lo), float(hi))
    return PairedEffect(float(b.mean()), float(d.mean()), mean, ci, p, n)


def direction(e: PairedEffect, min_effect: float) -> str:
    """``increase``/``decrease`` when significant (p < 0.05) and at least ``min_effect`` in size, else ``none``."""
    if e.p_value < ALPHA and abs(e.difference) >= min_effect:
        return "increase" if e.difference > 0 else "decrease"
    return "none"
