"""Factor sweeps: vary one of the SoK's factors, validate the cell at each value, test the KB's edges.

A sweep of factor F for (defense, risk) runs a full paired validation at each value of F. Two trends
are then tested across values with Spearman's rank correlation over every (value, seed) point:

* the **baseline** model's susceptibility to the risk against F: this tests the KB's claim F -> risk
  (the sign of the direct edge if the KB has one, else the QPN sum over the paths F -> ... -> risk);
* the defense's **effect** (defended minus baseline) against F: how the factor moderates the interaction,
  reported but not used as a verdict on an edge.

The verdict on the claimed edges is ``confirms`` when the baseline trend is significant (p < ``ALPHA``)
in the claimed direction, ``contradicts`` when significant in the other, else ``inconclusive``. It is
stored as sweep evidence on those edges (:mod:`interplay.interactions.validated`), never as an edge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from scipy.stats import spearmanr

from interplay.errors import UsageError
from interplay.validators.executors import Workers, per_seed, raise_failures, run_batched
from interplay.validators.experiment import Judge, ValidationConfig, run_validation
from interplay.validators.models import CAPACITY
from interplay.validators.settings import Settings
from interplay.validators.store import ResultStore

ALPHA = 0.05


class SweepError(UsageError, ValueError):
    """A sweep that cannot run (unknown factor, a value the data generator rejects, wrong dataset)."""


@dataclass(frozen=True)
class FactorKnob:
    """How a factor is set in an experiment: the Settings field per dataset (``"*"``: any dataset).
    ``orientation`` is +1 when a larger knob value means more of the factor, -1 when it means less (a smaller
    minority subgroup is a longer tail; more spurious attributes, a lower priority of stable ones)."""

    node: str
    fields: dict[str, str]
    orientation: int

    def field(self, dataset: str) -> str:
        name = self.fields.get(dataset) or self.fields.get("*")
        if name is None:
            raise SweepError(f"this factor has no knob on {dataset}; datasets: {', '.join(self.fields)}")
        return name

    def level(self, value: str) -> float:
        """The value as a number in the knob's own units (capacity presets by rank)."""
        if value in CAPACITY:
            return float(list(CAPACITY).index(value))
        return float(value)

    def apply(self, s: Settings, value: str) -> Settings:
        name = self.field(s.dataset)
        if name == "capacity":
            if value not in CAPACITY:
                raise SweepError(f"model capacity must be one of {', '.join(CAPACITY)}, not {value!r}")
            return replace(s, train=replace(s.train, capacity=value))
        try:
            number = float(value) if name == "minority_frac" else int(value)
        except ValueError:
            raise SweepError(f"{name} needs a number, not {value!r}") from None
        if name == "n_train":
            n_train = cast(int, number)  # every field but minority_frac is parsed with int()
            synthetic = replace(s.synthetic, n_train=n_train) if s.synthetic else None
            return replace(s, n_train=n_train, synthetic=synthetic)
        if name == "adult_k":
            return replace(s, adult_k=cast(int, number))
        assert s.synthetic is not None, "the remaining knobs exist on synthetic data only"
        changes: dict[str, Any] = {name: number}  # a field chosen at run time, of that field's type
        return replace(s, synthetic=replace(s.synthetic, **changes))


KNOBS = {
    "D1": FactorKnob("training-data-size", {"*": "n_train"}, +1),
    "D2": FactorKnob("tail-length", {"synthetic": "minority_frac"}, -1),
    "D3": FactorKnob("input-dimensionality", {"synthetic": "n_attributes", "adult": "adult_k"}, +1),
    "D4": FactorKnob("stable-attribute-priority", {"synthetic": "n_spurious"}, -1),
    "M1": FactorKnob("model-capacity", {"*": "capacity"}, +1),
}


def _trend(x: list[float], y: list[float]) -> dict:
    if len(set(x)) < 2 or len(set(y)) < 2:
        return {"rho": 0.0, "p_value": 1.0, "direction": "none"}
    rho, p = spearmanr(x, y)
    direction = "none" if p >= ALPHA else ("increase" if rho > 0 else "decrease")
    return {"rho": float(rho), "p_value": float(p), "direction": direction}


def run_sweep(
    cfg: ValidationConfig,
    factor: str,
    values: list[str],
    seeds: int,
    judge: Judge,
    claim: tuple[str, list[str]],
    store: ResultStore,
    on_step: Callable[[], None] | None = None,
    annotate: dict | None = None,
    workers: Workers = 1,
) -> dict:
    """Validate ``cfg`` at every value of ``factor``; test ``claim``, the KB's sign of factor -> risk and the edges
    it rests on (:func:`interplay.interactions.claims.claimed_edges`); store the verdict on those edges.
    ``annotate`` is added to each point's validation document (e.g. the setting and regime it ran under).
    ``workers``: local processes per point, or an executor (on Ray every point's seeds go out together)."""
    if factor not in KNOBS:
        raise SweepError(f"unknown factor {factor!r}; sweepable: {', '.join(KNOBS)}")
    if len(values) < 2:
        raise SweepError("a sweep needs at least two values")
    knob = KNOBS[factor]
    configs = [replace(cfg, settings=knob.apply(cfg.settings, v)) for v in values]
    points, xs, base, diff = [], [], [], []

    def point(c: ValidationConfig) -> Callable[[Workers, Any], dict]:
        return lambda w, on_seed: run_validation(c, seeds, judge, store, on_seed, w, annotate=annotate)

    docs = run_batched(workers, [point(c) for c in configs], store, per_seed(on_step))
    raise_failures([f for d in docs if isinstance(d, list) for f in d])
    for value, doc in zip(values, docs, strict=True):
        level = knob.orientation * knob.level(value)
        for rec in store.runs(doc["config_hash"]).values():  # the configuration as run (regime, calibration)
            if rec["seed"] < seeds:
                b, d = (rec[arm]["risks"][cfg.risk]["score"] for arm in ("baseline", "defended"))
                xs.append(level)
                base.append(b)
                diff.append(d - b)
        points.append({"value": value, "effect": doc["effect"], "observed": doc["observed"], "verdict": doc["verdict"],
                       "config_hash": doc["config_hash"]})  # fmt: skip
    sign, edges = claim
    risk_trend, effect_trend = _trend(xs, base), _trend(xs, diff)
    claimed = {"+": "increase", "-": "decrease"}.get(sign)
    if claimed is None or risk_trend["direction"] == "none":
        verdict = "inconclusive"
    else:
        verdict = "confirms" if risk_trend["direction"] == claimed else "contradicts"
    summary = {
        "defense": cfg.defense, "risk": cfg.risk, "factor": factor, "factor_node": knob.node,
        "knob": knob.field(cfg.settings.dataset),
        "orientation": knob.orientation, "values": values, "dataset": cfg.settings.data_name, "seeds": seeds,
        "claim": {"direction": claimed or "ambiguous", "edges": edges}, "risk_trend": risk_trend,
        "effect_trend": effect_trend, "verdict": verdict, "points": points,
        "edges": {e: {"verdict": verdict, "effect": risk_trend} for e in edges},
    }  # fmt: skip
    key = hashlib.sha256(json.dumps([p["config_hash"] for p in points] + [factor]).encode()).hexdigest()[:20]
    summary["config_hash"] = key
    store.save_sweep(key, edges, summary)
    return summary
