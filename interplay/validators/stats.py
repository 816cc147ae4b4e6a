"""Paired statistics over seeds, the smallest effect of interest, and the observed direction (the verdict rule is
:mod:`interplay.verdicts`).

The smallest effect of interest (SESOI) is one rule for every probe, computed from the baseline arm alone: a tenth
of the headroom in the direction of the change, toward the probe's chance level (the score of an attack that learns
nothing) for a decrease and toward its ceiling (the most a score can reach) for an increase, and never below 0.01,
the resolution of scores measured on a few hundred to a few thousand records. A score near its ceiling (ownership
fidelity 0.95) thus needs a smaller increase than decrease, and can show one at all. Scores read as ratios (TPR at a
fixed low FPR, whose chance is the FPR) take the same share of the headroom on a log scale, and a floor of a tenth
of their chance level: a four-fold increase of TPR at 1% FPR from 0.0026 is an effect of interest, as the papers
that report such TPRs read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from interplay.verdicts import ALPHA, classify

HEADROOM_SHARE, MIN_EFFECT_FLOOR = 0.1, 0.01
RATIO_FLOOR_SHARE = 0.1  # of the chance level, for scores read as ratios
POWER = 0.8


@dataclass(frozen=True)
class Scale:
    """Where a score sits: ``chance`` (an attack that learns nothing), ``ceiling`` (the most it can reach) and whether
    it is read as a ratio (``ratio``: TPR at a fixed FPR)."""

    chance: float = 0.0
    ceiling: float = 1.0
    ratio: bool = False


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


def min_effect_band(baseline: float, scale: Scale) -> tuple[float, float]:
    """The smallest effects of interest (decrease, increase) as magnitudes of the difference (module docstring)."""
    if scale.ratio:
        floor = RATIO_FLOOR_SHARE * scale.chance
        if baseline <= 0:
            return floor, floor
        up = baseline * ((scale.ceiling / baseline) ** HEADROOM_SHARE - 1) if scale.ceiling > baseline else 0.0
        down = baseline * (1 - (scale.chance / baseline) ** HEADROOM_SHARE) if baseline > scale.chance else 0.0
        return max(floor, down), max(floor, up)
    down = HEADROOM_SHARE * max(0.0, baseline - scale.chance)
    up = HEADROOM_SHARE * max(0.0, scale.ceiling - baseline)
    return max(MIN_EFFECT_FLOOR, down), max(MIN_EFFECT_FLOOR, up)


def scale_free_band(baseline: float) -> tuple[float, float]:
    """For a quantity with neither a chance level nor a ceiling (a factor probe's estimate): a tenth of the
    baseline's magnitude either way, never below the floor."""
    smallest = max(MIN_EFFECT_FLOOR, HEADROOM_SHARE * abs(baseline))
    return smallest, smallest


def in_direction(band: tuple[float, float], difference: float) -> float:
    """The smallest effect of interest in the direction of ``difference`` (an increase's for a zero difference)."""
    return band[0] if difference < 0 else band[1]


def direction(e: PairedEffect, band: tuple[float, float]) -> str:
    """``increase``/``decrease`` when significant (p < 0.05) and at least the effect of interest, else ``none``."""
    return classify(e.p_value, e.difference, e.ci95, band)[0]


def evidence(e: PairedEffect, band: tuple[float, float]) -> str:
    """``significant``, ``small``, ``equivalent`` or ``underpowered`` (:func:`interplay.verdicts.classify`)."""
    return classify(e.p_value, e.difference, e.ci95, band)[1]
