"""Two defenses in one model, and the validation of a predicted conflict between them.

Composition (:class:`Combined`): the data alterations run in order (A's, then B's), the training hooks
compose (``prepare`` chained, e.g. Opacus wraps the model once; when both defenses change the loss, the
model minimises the sum of their objectives; ``finish`` in reverse), and the observables merge. One guard
makes a gradient-on-inputs defense (adversarial training) compose with per-sample-gradient training
(DP-SGD): forward passes on inputs that require grad, i.e. attack generation, run with Opacus' per-sample
hooks off, so only the training step is privatized and clipped.

Validation (:func:`run_combo`): per seed, train the baseline, A alone, B alone and A with B on the same
splits; measure each defense's intended risks (the KB's ``targets`` with a registered probe) on the
baseline, on the defense alone and on the combination. For each defense, "alone" is the paired effect
baseline -> alone (a target on which the defense alone brings no significant decrease of at least the
smallest effect of interest, ``min_effect``, from the baseline's headroom, is reported, not judged; a defense
effective on none is inconclusive) and "loss" the paired effect alone -> combined: a significant increase of
at least ``min_effect`` on a judged target is a ``conflict``; a 95% CI that rules out such an increase on
every judged target is ``effective``; anything else is inconclusive.
A side is also inconclusive when the combined model lost more than ``UTILITY_DROP`` accuracy against the
defense alone: a collapsed model's risk scores (e.g. no evasion on a near-constant classifier) say nothing
about the defense.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.executors import Workers
from interplay.validators.experiment import (
    Judge,
    calibrated,
    code_version,
    compare,
    plugin_params,
    plugin_versions,
    run_seeds,
    seed_task,
)
from interplay.validators.registry import DEFENSES, RISKS, UnregisteredPair
from interplay.validators.risks.base import ProbeUnsupported, RiskProbe
from interplay.validators.settings import Settings, data_digest, data_record
from interplay.validators.stats import PairedEffect, direction, min_effect_band, paired_effect
from interplay.validators.store import ResultStore
from interplay.validators.training import TrainingHooks, accuracy

ARMS = ("baseline", "a", "b", "combined")
UTILITY_DROP = 0.1


class _AttackPassGuard:
    """Calls the training model; passes on inputs that require grad (attack generation) skip per-sample hooks."""

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, "enable_hooks"):  # an Opacus GradSampleModule
            (self.model.disable_hooks if x.requires_grad else self.model.enable_hooks)()  # type: ignore[operator]
        return self.model(x)


class ComposedHooks(TrainingHooks):
    def __init__(self, first: TrainingHooks, second: TrainingHooks):
        self.parts = (first, second)
        self.full_batches = first.full_batches and second.full_batches

    def prepare(self, model, optimizer, loader):
        for h in self.parts:
            model, optimizer, loader = h.prepare(model, optimizer, loader)
        return model, optimizer, loader

    def loss(self, model, x, y, s):
        own = [h for h in self.parts if type(h).loss is not TrainingHooks.loss]
        if not own:
            return super().loss(model, x, y, s)
        guarded = _AttackPassGuard(model)
        return sum(h.loss(guarded, x, y, s) for h in own)

    def finish(self, wrapped) -> None:
        if hasattr(wrapped, "enable_hooks"):
            wrapped.enable_hooks()
        for h in reversed(self.parts):
            h.finish(wrapped)

    def metadata(self) -> dict:
        return self.parts[0].metadata() | self.parts[1].metadata()


class Combined(DefensePlugin):
    """Defense A and defense B applied to one model (see the module docstring)."""

    def __init__(self, settings: Settings, task: Task, first: str, second: str):
        super().__init__(settings, task)
        self.parts = (DEFENSES[first](settings, task), DEFENSES[second](settings, task))
        self.slug = f"{first}+{second}"  # type: ignore[misc]  # a combination's slug is per instance
        if all(type(d.hooks()).prepare is not TrainingHooks.prepare for d in self.parts):
            raise ProbeUnsupported(
                f"{first} and {second} both replace the optimizer or the loader (TrainingHooks.prepare); one would "
                "undo the other, so validate-combo cannot compose them"
            )

    def alter_training_data(self, train: Split, seed: int) -> Split:
        for d in self.parts:
            train = d.alter_training_data(train, seed)
        return train

    def hooks(self) -> TrainingHooks:
        return ComposedHooks(self.parts[0].hooks(), self.parts[1].hooks())

    def observables(self, model, train: Split) -> dict[str, Any]:
        return self.parts[0].observables(model, train) | self.parts[1].observables(model, train)


_UNCOMPOSED = ("deploy", "build", "after_training")


def check_defenses(*defenses: str) -> None:
    """Raise unless each defense has a plugin whose recipe a combination can compose: training-data changes,
    training hooks and observables (:class:`Combined`), not its own model (``build``), a change of the trained
    model (``after_training``) or a recipe of its own (``deploy``)."""
    missing = [d for d in defenses if d not in DEFENSES]
    if missing:
        raise UnregisteredPair(
            f"no validator plugin for defense {' and '.join(map(repr, missing))}; "
            f"registered defenses: {', '.join(DEFENSES)}"
        )
    for d in defenses:
        own = [
            s for s in ("deploy", "build", "after_training") if getattr(DEFENSES[d], s) is not getattr(DefensePlugin, s)
        ]
        if own:
            raise ProbeUnsupported(
                f"validate-combo composes two defenses' training data, training hooks and observables; {d} also "
                f"overrides {', '.join(own)}, which a combination does not compose"
            )


@dataclass(frozen=True)
class ComboConfig:
    """Everything that determines a combination's per-seed results (the store's key).

    ``targets_a``/``targets_b``: each defense's intended risks (the KB's ``targets``); those without a
    registered probe are not measured.
    """

    a: str
    b: str
    settings: Settings
    targets_a: tuple[str, ...] = ()
    targets_b: tuple[str, ...] = ()
    data_path: str | None = None

    def __post_init__(self) -> None:
        check_defenses(self.a, self.b)

    def measured(self, side: str) -> tuple[str, ...]:
        return tuple(t for t in (self.targets_a if side == "a" else self.targets_b) if t in RISKS)

    @property
    def plugins(self) -> dict[str, Any]:
        """Every plugin this combination runs, by slug."""
        used = {self.a: DEFENSES[self.a], self.b: DEFENSES[self.b]}
        return used | {t: RISKS[t] for t in (*self.measured("a"), *self.measured("b"))}

    def as_dict(self) -> dict:
        return {
            "combination": [self.a, self.b],
            "settings": self.settings.as_dict(),
            "params": plugin_params(self.settings, self.plugins.values()),
            "targets": {"a": sorted(self.measured("a")), "b": sorted(self.measured("b"))},
            "data": data_digest(self.settings, self.data_path),
            "code_version": code_version(),
            "plugin_versions": plugin_versions(self.plugins.values()),
        }

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:20]


def _probes(cfg: ComboConfig, task: Task) -> dict[str, RiskProbe]:
    probes = {}
    for t in {*cfg.measured("a"), *cfg.measured("b")}:
        try:
            probes[t] = RISKS[t](cfg.settings, task)
        except ProbeUnsupported:
            continue
    return probes


def measure_combo_seed(cfg: ComboConfig, seed: int) -> dict:
    """Train the four arms on one seed's splits and measure, on each, the risks its defenses target."""
    start = time.perf_counter()
    task = seed_task(cfg.settings, seed, cfg.data_path)
    probes = _probes(cfg, task)
    arms = {
        "baseline": DefensePlugin(cfg.settings, task),
        "a": DEFENSES[cfg.a](cfg.settings, task),
        "b": DEFENSES[cfg.b](cfg.settings, task),
        "combined": Combined(cfg.settings, task, cfg.a, cfg.b),
    }
    deployed = {arm: defense.deploy(task.train, seed) for arm, defense in arms.items()}
    measured = {}
    for t, probe in probes.items():
        judged = {arm: d for arm, d in deployed.items() if arm in ("baseline", "combined") or t in cfg.measured(arm)}
        measured[t] = compare(probe, judged, task.train, seed)
    record: dict = {"seed": seed}
    for arm, d in deployed.items():
        record[arm] = {
            "utility": accuracy(d.model, task.test),
            "metadata": d.metadata,
            "risks": {t: asdict(measured[t][arm]) for t in sorted(measured) if arm in measured[t]},
        }
    record["runtime_s"] = time.perf_counter() - start
    return record


def _scores(records: list[dict], arm: str, risk: str) -> list[float]:
    return [r[arm]["risks"][risk]["score"] for r in records]


def _utility(records: list[dict], arm: str) -> list[float]:
    return [r[arm]["utility"] for r in records]


def _side(records: list[dict], arm: str, defense: str, other: str, settings: Settings) -> dict:
    """Does ``defense`` (arm ``arm``) stay effective once ``other`` is added, on the targets it protects alone?"""
    effectiveness, statuses = {}, []
    for t in records[0][arm]["risks"]:
        probe = RISKS[t]
        base, alone, combined = (_scores(records, x, t) for x in ("baseline", arm, "combined"))
        e_alone, e_loss = paired_effect(base, alone), paired_effect(alone, combined)
        smallest = min_effect_band(e_alone.baseline, probe.scale_of())
        works = direction(e_alone, smallest) == "decrease"
        status = _status(e_loss, smallest) if works else "not effective alone"
        statuses += [status] if works else []
        gain = e_alone.baseline - e_alone.defended
        effectiveness[t] = {
            "metric": probe.metric_for(settings),
            "min_effect": smallest[1],  # an increase's: what a conflict (the loss) must reach
            "min_effect_band": list(smallest),
            "effective_alone": works,
            "alone": e_alone.as_dict(),
            "combined": paired_effect(base, combined).as_dict(),
            "loss": {**e_loss.as_dict(), "observed": status},
            "retained": (e_alone.baseline - e_loss.defended) / gain if gain > 0 else None,
        }
    drop = float(np.mean(_utility(records, arm)) - np.mean(_utility(records, "combined")))
    if not effectiveness:
        observed = "unmeasured"
    elif not statuses or drop > UTILITY_DROP:
        observed = "inconclusive"
    elif "conflict" in statuses:
        observed = "conflict"
    else:
        observed = "effective" if set(statuses) == {"effective"} else "inconclusive"
    return {
        "defense": defense,
        "with": other,
        "observed": observed,
        "defense_effective": bool(statuses) if effectiveness else None,
        "utility_drop": drop,
        "effectiveness": effectiveness,
    }


def _status(loss: PairedEffect, band: tuple[float, float]) -> str:
    if direction(loss, band) == "increase":
        return "conflict"
    return "effective" if loss.ci95[1] < band[1] else "inconclusive"


def summarize_combo(cfg: ComboConfig, records: list[dict], runtime_s: float, key: str | None = None) -> dict:
    """The validate-combo measurement document (a judge adds the predictions and verdicts).

    ``key``: the store key the records were saved under (default: the configuration's hash now).
    """
    sides = [_side(records, "a", cfg.a, cfg.b, cfg.settings), _side(records, "b", cfg.b, cfg.a, cfg.settings)]
    observed = {s["observed"] for s in sides}
    pair = "conflict" if "conflict" in observed else ("compatible" if observed == {"effective"} else "inconclusive")
    utility = {arm: float(np.mean(_utility(records, arm))) for arm in ARMS}
    return {
        "defenses": [cfg.a, cfg.b],
        "observed": pair,
        "sides": sides,
        "utility": {
            "metric": "accuracy",
            "baseline": utility["baseline"],
            cfg.a: utility["a"],
            cfg.b: utility["b"],
            "combined": utility["combined"],
        },
        "metadata": records[0]["combined"]["metadata"],
        "seeds": len(records),
        "seed_list": [r["seed"] for r in records],
        "dataset": cfg.settings.data_name,
        "settings": cfg.settings.as_dict(),
        "params": plugin_params(cfg.settings, cfg.plugins.values()),
        "config_hash": key or cfg.hash(),
        "code_version": code_version(),
        "compute_s": float(sum(r["runtime_s"] for r in records)),
        "runtime_s": runtime_s,
    }


def run_combo(
    cfg: ComboConfig,
    seeds: int,
    judge: Judge,
    store: ResultStore | None = None,
    on_seed: Callable[[int, bool], None] | None = None,
    workers: Workers = 1,
) -> dict:
    """Run seeds ``0..seeds-1`` (reusing those in ``store``; the missing ones in ``workers`` processes at once, or
    on an executor),
    summarize, and let ``judge`` add the predictions and verdicts."""
    start = time.perf_counter()
    settings, calibration = calibrated(cfg.settings, (*cfg.measured("a"), *cfg.measured("b")), cfg.data_path, store)
    cfg = replace(cfg, settings=settings)
    key = cfg.hash()
    records = run_seeds(key, seeds, functools.partial(measure_combo_seed, cfg), store, on_seed, workers)
    doc = summarize_combo(cfg, records, time.perf_counter() - start, key) | {"calibration": calibration}
    return judge(doc | data_record(cfg.settings))
