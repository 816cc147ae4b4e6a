"""Headroom calibration: a probe's attack-strength knob set from the baseline arm alone, on pilot seeds.

A probe whose baseline sits at its ceiling cannot show an increase (a backdoor at 5% poisoning succeeds on
99% of triggered records). A probe may declare a :class:`Headroom` rule: a grid of values of one of its
parameters, weakest attack first, and a band for the baseline's score. The rule, fixed before any cell is
seen: walk the grid and keep the first value at which the one-sided 95% lower confidence bound (Student's t) of
the mean score of the *baseline* (the undefended recipe) over the 8 :data:`PILOT_SEEDS` reaches the band's lower
end; when none does, the strongest value. A bound rather than the mean, so that one lucky pilot seed cannot choose
a knob that leaves the baseline at chance (the winner's curse: with three pilots, distribution inference's AUCs of
0.47, 0.95 and 0.55 averaged 0.66, inside the band, and the evaluation seeds then scored 0.52). The defended arm
is never trained, and the pilot seeds are disjoint from the evaluation seeds (``0..seeds-1``, at most 1000).
The value chosen, whether its score lies inside the band, and every pilot score walked through are recorded
with each result that uses it. A parameter the user sets (``--param``) is not calibrated; neither is any
parameter at the ``tiny`` preset (``Settings.calibrate`` False), whose runs conclude nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from interplay.validators.settings import Settings
from interplay.validators.store import ResultStore

PILOT_SEEDS = tuple(range(10_000, 10_008))
CONFIDENCE = 0.95
_PILOTS: dict[tuple[str, int], dict] = {}  # pilot scores measured in this process, by (pilot key, seed)
RULE = (
    "the first grid value (weakest attack first) whose one-sided 95% lower confidence bound of the mean baseline "
    "score on the pilot seeds reaches the band"
)


def lower_bound(scores: list[float]) -> float:
    """The one-sided :data:`CONFIDENCE` lower bound of the mean of ``scores`` (Student's t)."""
    x = np.asarray(scores, float)
    if len(x) < 2 or x.std(ddof=1) == 0:
        return float(x.mean())
    return float(x.mean() - stats.t.ppf(CONFIDENCE, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


@dataclass(frozen=True)
class Headroom:
    """Calibrate parameter ``param`` over ``grid`` (weakest attack first) so that the baseline scores in ``band``."""

    param: str
    grid: tuple[Any, ...]
    band: tuple[float, float]


# The baseline arm's score of probe ``slug`` under these settings on one pilot seed.
BaselineScore = Callable[[str, Settings, int], float]


def _pilot_key(slug: str, settings: Settings, context: dict) -> str:
    doc = {"slug": slug, "settings": settings.as_dict(), "overrides": settings.overrides, **context}
    return "pilot:" + hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:20]


def walk(
    name: str,
    grid: Iterable[Any],
    trial: Callable[[Any], Settings],
    baseline_score: BaselineScore,
    band: tuple[float, float],
    store: ResultStore | None = None,
    context: dict | None = None,
) -> dict:
    """The rule: walk ``grid`` (weakest first) and keep the first value whose settings, ``trial(value)``, give
    baseline scores (``baseline_score(name, settings, seed)``) over :data:`PILOT_SEEDS` whose :func:`lower_bound`
    is at least ``band[0]``, else the last value. Returns the record: ``value``, ``baseline_score`` (the pilots'
    mean), ``lower_bound``, ``band``, ``in_band`` (the mean), ``pilot_seeds``, ``walked`` (every value tried with its
    mean, bound and scores) and ``rule``. Pilot scores are kept in this
    process and in ``store`` (under a key of ``name``, the trial settings and ``context``, e.g. the code and
    data versions), so that neither the next cell nor a resumed run trains them again."""
    walked = []
    for value in grid:
        settings = trial(value)
        key = _pilot_key(name, settings, context or {})
        in_store = store.runs(key) if store else {}
        stored = {seed: _PILOTS[key, seed] for seed in PILOT_SEEDS if (key, seed) in _PILOTS} | in_store
        scores = []
        for seed in PILOT_SEEDS:
            if seed not in stored:
                stored[seed] = {"seed": seed, "score": baseline_score(name, settings, seed)}
            if store and seed not in in_store:  # also one this process knew: the store is then complete
                store.save_run(key, seed, stored[seed])
            _PILOTS[key, seed] = stored[seed]
            scores.append(stored[seed]["score"])
        walked.append(
            {"value": value, "score": float(np.mean(scores)), "lower_bound": lower_bound(scores), "scores": scores}
        )
        if walked[-1]["lower_bound"] >= band[0]:
            break
    chosen = walked[-1]
    return {
        "value": chosen["value"],
        "baseline_score": chosen["score"],
        "lower_bound": chosen["lower_bound"],
        "band": list(band),
        "in_band": band[0] <= chosen["score"] <= band[1],
        "pilot_seeds": list(PILOT_SEEDS),
        "walked": walked,
        "rule": RULE,
    }


def _with_param(settings: Settings, slug: str, param: str, value: Any) -> Settings:
    return settings.with_params(slug, **{param: value})


def calibrate(
    settings: Settings,
    probes: Iterable[Any],
    baseline_score: BaselineScore,
    store: ResultStore | None = None,
    context: dict | None = None,
) -> tuple[Settings, dict[str, dict]]:
    """``settings`` with each calibrated parameter of ``probes`` set by its :class:`Headroom` rule (:func:`walk`),
    and the record of each calibration (with its ``param``) by probe slug."""
    records: dict[str, dict] = {}
    for probe in probes:
        rule: Headroom | None = probe.headroom_for(settings)
        if rule is None or not settings.calibrate or any(o[:2] == (probe.slug, rule.param) for o in settings.overrides):
            continue
        trial = functools.partial(_with_param, settings, probe.slug, rule.param)
        record = walk(probe.slug, rule.grid, trial, baseline_score, rule.band, store, context)
        settings = trial(record["value"])
        records[probe.slug] = {"param": rule.param, **record}
    return settings, records
