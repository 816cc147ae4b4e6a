"""``interplay measure``: does a defense move the factors the KB says it moves?

Per seed, the baseline and the defended model are trained on the same splits (as in a validation) and every
requested factor is estimated on both (:mod:`.factors`). Per factor: the paired effect over seeds, its
Benjamini-Hochberg q-value across the factors measured, the observed direction (the verdict rule of the
validations: q < 0.05 and at least the smallest effect of interest, a tenth of the baseline's magnitude and at
least 0.01) and, where the KB has a defense -> factor edge, whether the measurement ``confirms`` or
``contradicts`` its sign (``inconclusive`` without a significant direction). Each finished seed is stored, and
the verdicts on the KB's edges go to the store as measured evidence (a sweep record of kind ``measure``, read back
by :mod:`interplay.interactions.validated`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.executors import Workers
from interplay.validators.experiment import (
    code_version,
    plugin_params,
    plugin_versions,
    run_seeds,
    seed_task,
)
from interplay.validators.factors import ESTIMATORS, Context, UnknownFactor, estimate
from interplay.validators.registry import DEFENSES
from interplay.validators.settings import Settings, data_digest
from interplay.validators.stats import paired_effect, scale_free_band
from interplay.validators.store import ResultStore
from interplay.verdicts import benjamini_hochberg, classify

SIGN_DIRECTION = {"increases": "increase", "decreases": "decrease"}


@dataclass(frozen=True)
class MeasureConfig:
    """Everything that determines a measurement's per-seed records (the store's key)."""

    defense: str
    settings: Settings
    factors: tuple[str, ...] = tuple(ESTIMATORS)
    data_path: str | None = None

    def __post_init__(self) -> None:
        unknown = [f for f in self.factors if f not in ESTIMATORS]
        if unknown:
            raise UnknownFactor(f"no estimator for {', '.join(unknown)}; measurable: {', '.join(ESTIMATORS)}")

    def as_dict(self) -> dict:
        plugin = DEFENSES[self.defense]
        return {
            "measure": self.defense,
            "factors": list(self.factors),
            "settings": self.settings.as_dict(),
            "params": plugin_params(self.settings, [plugin]),
            "data": data_digest(self.settings, self.data_path),
            "code_version": code_version(),
            "plugin_versions": plugin_versions([plugin]),
        }

    def hash(self) -> str:
        return "measure:" + hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:20]


def measure_seed(cfg: MeasureConfig, seed: int) -> dict:
    """Train the baseline and the defended model on one seed's splits and estimate every factor on both."""
    start = time.perf_counter()
    task = seed_task(cfg.settings, seed, cfg.data_path)
    arms = {"baseline": DefensePlugin(cfg.settings, task), "defended": DEFENSES[cfg.defense](cfg.settings, task)}
    record: dict = {"seed": seed}
    for arm, plugin in arms.items():
        context = Context(plugin.deploy(task.train, seed), task, cfg.settings, seed)
        values = {}
        for f in cfg.factors:
            try:
                values[f] = estimate(f, context)
            except UnknownFactor:
                continue  # not measurable on this task (e.g. stable attributes outside the synthetic generator)
        record[arm] = values
    record["runtime_s"] = time.perf_counter() - start
    return record


def summarize(cfg: MeasureConfig, records: list[dict], edges: dict[str, tuple[str, str]], key: str) -> dict:
    """Per factor the paired effect, its q-value and direction, and the verdict on the KB's edge (``edges``: factor
    -> the id and sign of the defense -> factor edge); ``key``: the store key the records were saved under."""
    measured = [f for f in cfg.factors if all(f in r["baseline"] and f in r["defended"] for r in records)]
    effects = {f: paired_effect([r["baseline"][f] for r in records], [r["defended"][f] for r in records])
               for f in measured}  # fmt: skip
    qs = dict(zip(measured, benjamini_hochberg([effects[f].p_value for f in measured]), strict=True))
    rows = {}
    for f in measured:
        e = effects[f]
        smallest = scale_free_band(e.baseline)
        observed, evidence = classify(qs[f], e.difference, e.ci95, smallest)
        edge, sign = edges.get(f, (None, None))
        kb = SIGN_DIRECTION.get(sign or "", sign)
        verdict = None if kb is None else ("inconclusive" if observed == "none" else
                                           ("confirms" if observed == kb else "contradicts"))  # fmt: skip
        rows[f] = {**e.as_dict(), "q_value": qs[f], "min_effect": smallest[0], "observed": observed,
                   "evidence": evidence, "edge": edge, "kb": sign, "verdict": verdict}  # fmt: skip
    return {
        "defense": cfg.defense,
        "factors": rows,
        "unmeasured": [f for f in cfg.factors if f not in measured],
        "seeds": len(records),
        "dataset": cfg.settings.dataset,
        "settings": cfg.settings.as_dict(),
        "config_hash": key,
        "code_version": code_version(),
        "compute_s": float(sum(r["runtime_s"] for r in records)),
    }


def run_measure(
    cfg: MeasureConfig,
    seeds: int,
    edges: dict[str, tuple[str, str]],
    store: ResultStore | None = None,
    on_seed: Callable[[int, bool], None] | None = None,
    workers: Workers = 1,
) -> dict:
    """Measure seeds ``0..seeds-1`` (stored ones reused), summarize against ``edges`` and store the verdicts on
    them as measured evidence."""
    start = time.perf_counter()
    key = cfg.hash()
    records = run_seeds(key, seeds, functools.partial(measure_seed, cfg), store, on_seed, workers)
    doc = summarize(cfg, records, edges, key) | {"runtime_s": time.perf_counter() - start}
    judged = {row["edge"]: {"verdict": row["verdict"], "effect": row, "factor": f}
              for f, row in doc["factors"].items() if row["verdict"] is not None}  # fmt: skip
    if store and judged:
        evidence = {"kind": "measure", "defense": cfg.defense, "dataset": doc["dataset"], "seeds": doc["seeds"],
                    "edges": judged}  # fmt: skip
        store.save_sweep(key, list(judged), evidence)
    return doc


def factor_edges(kb_edges: Iterable, defense: str) -> dict[str, tuple[str, str]]:
    """The KB's defense -> factor edges (objects with ``id``, ``source``, ``target``, ``sign``) to measurable
    factors: factor -> (edge id, sign)."""
    return {e.target: (e.id, e.sign) for e in kb_edges if e.source == defense and e.target in ESTIMATORS}
