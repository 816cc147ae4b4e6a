"""A results store with hand-written records in the validators' format, for the status, export and report tests.

It tests the readers and renderers, not experiments: the summaries follow ``validate --json`` (see
``interplay.validators.experiment.summarize``) and the per-seed runs its ``measure_seed`` records.
"""

from __future__ import annotations

from pathlib import Path

from interplay.interactions import predict
from interplay.kb import KB
from interplay.validators.store import ResultStore

OPPOSITE = {"increase": "decrease", "decrease": "increase"}
# (defense, risk) -> (verdict, seeds); the observed direction follows from the verdict and the prediction
CELLS = {
    ("adversarial-training", "evasion"): ("confirmed", 5),
    ("differential-privacy", "membership-inference"): ("confirmed", 5),
    ("group-fairness", "membership-inference"): ("refuted", 4),
    ("differential-privacy", "discrimination"): ("inconclusive", 3),
}
REFUTED = ("group-fairness", "membership-inference")
SUPERSEDED = ("adversarial-training", "evasion")  # also stored with fewer seeds and the opposite verdict


def summary(kb: KB, defense: str, risk: str, verdict: str, seeds: int, key: str) -> dict:
    prediction = predict(kb, defense, risk).direction
    observed = {"confirmed": prediction, "refuted": OPPOSITE.get(prediction, "increase"), "inconclusive": "none"}[
        verdict
    ]
    sign = {"increase": 1, "decrease": -1, "none": 0}[observed]
    diff = 0.08 * sign
    return {
        "defense": defense, "risk": risk, "prediction": prediction, "observed": observed, "verdict": verdict,
        "effect": {"metric": "auc <script>", "baseline": 0.6, "defended": 0.6 + diff, "difference": diff,
                   "ci95": [diff - 0.03, diff + 0.03], "p_value": 0.01 if sign else 0.4, "n": seeds,
                   "min_effect": 0.02},
        "defense_effective": True, "effectiveness": {}, "seeds": seeds, "seed_list": list(range(seeds)),
        "dataset": "synthetic", "settings": {"dataset": "synthetic"}, "config_hash": key,
        "code_version": "test+000", "compute_s": 1.0, "runtime_s": 1.0,
    }  # fmt: skip


def run_record(risk: str, seed: int, baseline: float, defended: float) -> dict:
    arm = lambda score: {"utility": 0.8, "metadata": {}, "risks": {risk: {"score": score, "raw": {}}}}  # noqa: E731
    return {"seed": seed, "baseline": arm(baseline), "defended": arm(defended), "runtime_s": 0.1}


def _save(store: ResultStore, doc: dict) -> None:
    config = {"defense": doc["defense"], "risk": doc["risk"], "settings": doc["settings"], "code_version": "test"}
    store.save_validation(doc["config_hash"], config, doc)
    for seed in range(doc["seeds"]):
        b = 0.6 + 0.01 * seed
        store.save_run(doc["config_hash"], seed, run_record(doc["risk"], seed, b, b + doc["effect"]["difference"]))


def make_store(kb: KB, path: Path, sweeps: dict[str, str] | None = None) -> Path:
    """Write the cells of ``CELLS`` (plus a superseded configuration) and ``sweeps`` (edge id -> verdict)."""
    store = ResultStore(path)
    for (d, r), (verdict, seeds) in CELLS.items():
        _save(store, summary(kb, d, r, verdict, seeds, f"cfg-{d}-{r}"))
    d, r = SUPERSEDED
    _save(store, summary(kb, d, r, "refuted", 2, "superseded-cfg"))  # newer, but fewer seeds: not chosen
    for i, (edge, verdict) in enumerate((sweeps or {}).items()):
        store.save_sweep(f"sweep-{i}", [edge], {
            "defense": "adversarial-training", "risk": "membership-inference", "factor": "M1", "values": [16, 64],
            "edges": {edge: {"verdict": verdict, "effect": {"slope": 0.1}}},
        })  # fmt: skip
    return path
