"""Sequential seeds (``--seeds auto``): seed groups added until a cell is decided or its budget is spent.

The design, fixed before any cell ran: looks after every :data:`GROUP` seeds (the default fixed design's eight,
so the first look reuses a fixed run's records), up to ``max_seeds`` (the last group may be smaller). The error
rate is spent over the looks by Lan and DeMets' linear spending function, alpha(t) = alpha * t at information
fraction t = n / max_seeds (Lan and DeMets 1983, Biometrika 70(3):659-663; the power family of Kim and DeMets
1987 with rho = 1): look k tests at level alpha * w_k, w_k = (n_k - n_{k-1}) / max_seeds, and Bonferroni's
inequality bounds the chance of any false rejection over all looks by alpha, however the looks are used to stop.
This is conservative against exact group-sequential boundaries, which need the looks' joint distribution; it is
valid without it, for the paired t-test at each look. Two reports follow:

- the sequential p-value ``min_k p_k / w_k`` (capped at 1) over the looks taken: P(p <= alpha) <= alpha for every
  alpha under the null, so Benjamini-Hochberg across a matrix reads it as it reads a fixed-design p-value;
- the interval at the stopping look at two-sided level 1 - alpha * w_k: with the other looks' intervals it covers
  the mean difference at every look at once with probability at least 1 - alpha (a confidence sequence by the same
  inequality), so stopping when it lies inside the band of the smallest effects of interest is a valid
  equivalence decision.

A cell is decided, and stops, when its difference is significant and at least the smallest effect of interest
(``significant``), or when its interval lies inside that band (``equivalent``, or ``small`` when it also excludes
zero); otherwise it continues until ``max_seeds`` (``budget``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from interplay.validators.stats import PairedEffect, paired_effect
from interplay.verdicts import ALPHA, band, classify

GROUP = 8
MIN_MAX_SEEDS, MAX_MAX_SEEDS, DEFAULT_MAX_SEEDS = 2, 1000, 32
METHOD = (
    "group-sequential paired t-tests, Lan-DeMets linear alpha spending with Bonferroni allocation over looks "
    "every 8 seeds"
)


@dataclass(frozen=True)
class Auto:
    """Sequential seeds up to ``max_seeds`` (the API's ``seeds="auto"``); ``at``: only the look at that many seeds
    (a matrix runs its cells look by look)."""

    max_seeds: int = DEFAULT_MAX_SEEDS
    at: int | None = None


def looks(max_seeds: int) -> list[int]:
    """The seed counts at which a cell is looked at: every :data:`GROUP` seeds, and ``max_seeds`` last."""
    return [*range(GROUP, max_seeds, GROUP), max_seeds] if max_seeds > GROUP else [max_seeds]


def _weights(taken: list[int], max_seeds: int) -> list[float]:
    return [(n - prev) / max_seeds for prev, n in zip([0, *taken[:-1]], taken, strict=True)]


def sequential_effect(baseline: list[float], defended: list[float], max_seeds: int) -> tuple[PairedEffect, dict]:
    """The paired effect over all the seeds given (a look of the plan up to ``max_seeds``), with the sequential
    p-value and the stopping look's interval (module docstring) in place of the fixed-design ones, and the record
    of the looks taken."""
    n = len(baseline)
    taken = [k for k in looks(max_seeds) if k <= n]
    if not taken or taken[-1] != n:
        raise ValueError(f"{n} seeds is not a look of the sequential plan up to {max_seeds} ({looks(max_seeds)})")
    weights = _weights(taken, max_seeds)
    fixed = paired_effect(baseline, defended)
    p_looks = [paired_effect(baseline[:k], defended[:k]).p_value for k in taken]
    p_seq = min(1.0, min(p / w for p, w in zip(p_looks, weights, strict=True)))
    ci = _interval(np.asarray(defended, float) - np.asarray(baseline, float), ALPHA * weights[-1])
    effect = PairedEffect(fixed.baseline, fixed.defended, fixed.difference, ci, p_seq, n, fixed.wilcoxon_p, fixed.mde)
    record = {
        "method": METHOD,
        "max_seeds": max_seeds,
        "looks": taken,
        "look_alpha": [ALPHA * w for w in weights],
        "look_p_values": p_looks,
        "fixed_p_value": fixed.p_value,
        "fixed_ci95": list(fixed.ci95),
        "interval_level": 1 - ALPHA * weights[-1],
    }
    return effect, record


def _interval(diff: np.ndarray, level_alpha: float) -> tuple[float, float]:
    mean, n = float(diff.mean()), len(diff)
    sem = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    if sem == 0:
        return mean, mean
    half = float(st.t.ppf(1 - level_alpha / 2, n - 1)) * sem
    return mean - half, mean + half


def decision(effect: dict, max_seeds: int) -> str | None:
    """Why a cell stops at this look (``significant``, ``equivalent``, ``small``, ``budget``), or None to go on;
    ``effect``: the document's effect of that look (:func:`sequential_effect`'s, with its ``min_effect_band``)."""
    band_ = effect["min_effect_band"]
    _, evidence = classify(effect["p_value"], effect["difference"], effect["ci95"], band_)
    down, up = band(band_)
    lo, hi = effect["ci95"]
    if evidence == "significant" or (evidence in ("equivalent", "small") and -down < lo and hi < up):
        return evidence
    return "budget" if effect["n"] >= max_seeds else None
