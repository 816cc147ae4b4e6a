"""A validation: baseline vs defended models on the same splits and seeds, the risk measured on both.

``run_validation`` trains and measures seed by seed (each finished seed goes to the store at once),
then ``summarize`` turns the paired seeds into the effect, the observed direction, the defense's
effectiveness on its intended risks and utility. The verdict against a prediction is not the validators'
business: the caller passes a ``judge`` that adds it (the API joins prediction and measurement).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from interplay.validators import batched
from interplay.validators.calibration import calibrate
from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import DefensePlugin, Deployment
from interplay.validators.deployment_cache import active, deploy, sharing_deployments
from interplay.validators.executors import Job, LocalExecutor, Workers, as_executor, raise_failures
from interplay.validators.regimes import REGIMES, UnknownRegime, apply_regime
from interplay.validators.registry import DEFENSES, RISKS, check_metric, check_pair, source_digest
from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe
from interplay.validators.sequential import Auto, decision, looks, sequential_effect
from interplay.validators.settings import Settings, data_digest, data_record, load_task
from interplay.validators.stats import PairedEffect, direction, evidence, in_direction, min_effect_band, paired_effect
from interplay.validators.store import ResultStore
from interplay.validators.training import accuracy, parameter_digest
from interplay.validators.versions import code_version

# Adds the prediction and the verdict to a measurement document (supplied by the API layer).
Judge = Callable[[dict], dict]


def plugin_params(settings: Settings, plugins: Iterable[Any]) -> dict[str, dict]:
    """The resolved parameters of each plugin under ``settings``, by slug."""
    return {p.slug: asdict(settings.params_for(p)) for p in plugins}


def plugin_versions(plugins: Iterable[Any]) -> dict[str, str]:
    """A digest of each plugin's source file, by slug."""
    return {p.slug: source_digest(p) for p in plugins}


def seed_task(settings: Settings, seed: int, data_path: str | None) -> Task:
    """Seed ``seed``'s task: the shared one inside :func:`sharing_deployments` (on a Ray worker, the one the driver
    loaded and sent, :mod:`.executors`), else loaded here."""
    path = Path(data_path) if data_path else None
    cache = active()
    return cache.task(settings, seed, path) if cache else load_task(settings, seed, path)


def _prefetch(cfg: ValidationConfig, seeds: Iterable[int]) -> None:
    """Train what :func:`measure_seed` will ask the deployment cache for on ``seeds``, in one
    :meth:`~.DeploymentCache.deploy_jobs` call, so that the seeds' models train in batches (:mod:`.batched`) instead of
    seed by seed: both arms on each seed's training data, and the models each probe declares it will retrain them on
    (:meth:`~.RiskProbe.retrains`, e.g. membership inference's reference models). A probe that alters the training
    data (poisoning) gets only the clean deployments its cell's targets measure; a cell whose probe or defense does
    not apply gets nothing (it raises in ``measure_seed``)."""
    cache = active()
    assert cache is not None, "prefetching fills the deployment cache"
    jobs = []
    for seed in seeds:
        task = seed_task(cfg.settings, seed, cfg.data_path)
        try:
            probe = RISKS[cfg.risk](cfg.settings, task)
            arms = (DefensePlugin(cfg.settings, task), DEFENSES[cfg.defense](cfg.settings, task))
        except ProbeUnsupported:
            return
        targets = [t for t in (_probe(t, cfg.settings, task) for t in cfg.measured_targets if t != cfg.risk) if t]
        if not probe.alters_training_data() or targets:
            jobs += [(arm, task.train, seed) for arm in arms]
        for measuring in (probe, *targets):
            for datas, ss in measuring.retrains(seed):
                jobs += [(arm, data, s) for data, s in zip(datas, ss, strict=True) for arm in arms]
    cache.deploy_jobs(jobs)


def _probe(risk: str, settings: Settings, task: Task) -> RiskProbe | None:
    try:
        return RISKS[risk](settings, task)
    except ProbeUnsupported:
        return None


def trained_ahead(cfg: ValidationConfig) -> Callable[[list[int]], None] | None:
    """What :func:`run_seeds` may call to train ahead, in batches, the deployments of ``cfg``'s missing seeds
    (:func:`_prefetch`); None with batching off (:func:`.batched.one_by_one`). Records do not change: a model trains
    bit for bit the same alone and in a batch (:mod:`.batched`)."""
    return functools.partial(_prefetch, cfg) if batched.enabled() else None


@contextmanager
def _ahead(prepare: Callable[[list[int]], None] | None, seeds: list[int]):
    """Around seeds measured in this process: ``prepare(seeds)`` first, inside the run's deployment cache (one
    opened here when none is). One seed gains too: its arms and its probes' models train together."""
    if prepare is None or not seeds:
        yield
        return
    with nullcontext() if active() else sharing_deployments():
        prepare(seeds)
        yield


def _measure(probe: RiskProbe, deployment, train, seed: int):
    cache = active()
    return cache.measure(probe, deployment, train, seed) if cache else probe.measure(deployment, train, seed)


class MissingObservable(ProbeUnsupported):
    """A probe needs an observable the deployment does not offer (so the CLI reports it like any
    probe that cannot run)."""


@dataclass(frozen=True)
class ValidationConfig:
    """Everything that determines a validation's per-seed results (the store's key).

    ``targets`` are the defense's intended risks (the KB's ``targets``) on which its effectiveness
    is measured; those without a registered probe are ignored. ``metric``: the raw metric of the risk's probe
    that is the cell's score (a literature setting's declared metric), else the probe's own score. ``regime``:
    the conditions to run under (:mod:`.regimes`), resolved by :func:`run_validation`. ``setting``: the name of
    the setting they come from (``generic`` or ``literature``).
    """

    defense: str
    risk: str
    settings: Settings
    targets: tuple[str, ...] = ()
    data_path: str | None = None
    metric: str | None = None
    regime: str | None = None
    setting: str = "generic"

    def __post_init__(self) -> None:
        check_pair(self.defense, self.risk)
        check_metric(self.risk, self.metric)
        if self.regime is not None and self.regime not in REGIMES:
            raise UnknownRegime(f"unknown regime {self.regime!r}; choose from {', '.join(REGIMES)}")

    @property
    def plugins(self) -> dict[str, Any]:
        """Every plugin this validation runs, by slug."""
        used = {self.defense: DEFENSES[self.defense]}
        return used | {slug: RISKS[slug] for slug in (self.risk, *self.measured_targets)}

    def as_dict(self) -> dict:
        return (
            {
                "defense": self.defense,
                "risk": self.risk,
                "settings": self.settings.as_dict(),
                "params": plugin_params(self.settings, self.plugins.values()),
                "targets": sorted(self.measured_targets),
                "data": data_digest(self.settings, self.data_path),
                "code_version": code_version(),
                "plugin_versions": plugin_versions(self.plugins.values()),
            }
            | {k: v for k, v in (("metric", self.metric), ("regime", self.regime)) if v}
            | ({"setting": self.setting} if self.setting != "generic" else {})
        )

    @property
    def measured_targets(self) -> tuple[str, ...]:
        if not DEFENSES[self.defense].lowers_targets:
            return ()
        return tuple(t for t in self.targets if t in RISKS)

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:20]


def compare(probe: RiskProbe, deployments: dict[str, Deployment], train: Split, seed: int) -> dict[str, Measurement]:
    """``probe`` on every deployment. Members are the records of ``train`` that all of them trained on (a record one
    arm dropped is no member of either), unless the probe altered the training data itself; the probe sees every
    deployment before measuring any."""
    trained = [d.trained_on for d in deployments.values() if d.trained_on is not None]
    members = train if probe.alters_training_data() else train.shared_with(trained)
    probe.prepare(deployments, seed)
    return {arm: _measure(probe, d, members, seed) for arm, d in deployments.items()}


def baseline_score(slug: str, settings: Settings, seed: int, data_path: str | None = None) -> float:
    """Probe ``slug``'s score of the undefended recipe on one seed (a calibration pilot: no defense is trained)."""
    task = load_task(settings, seed, Path(data_path) if data_path else None)
    probe = RISKS[slug](settings, task)
    train = probe.alter_training_data(task.train, seed)
    baseline = DefensePlugin(settings, task).deploy(train, seed)
    return compare(probe, {"baseline": baseline}, train, seed)["baseline"].score


def baseline_train_accuracy(_: str, settings: Settings, seed: int, data_path: str | None = None) -> float:
    """The undefended recipe's accuracy on its own training records on one seed (a regime pilot)."""
    task = load_task(settings, seed, Path(data_path) if data_path else None)
    return accuracy(DefensePlugin(settings, task).deploy(task.train, seed).model, task.train)


def _context(settings: Settings, data_path: str | None) -> dict:
    """What pilot scores depend on besides their settings: the code and the data."""
    return {"code_version": code_version(), "data": data_digest(settings, data_path)}


def in_regime(cfg: ValidationConfig, store: ResultStore | None = None) -> tuple[ValidationConfig, dict]:
    """``cfg`` with its settings under its regime (:mod:`.regimes`) and the regime's record (empty without one)."""
    if cfg.regime is None:
        return cfg, {}
    score = functools.partial(baseline_train_accuracy, data_path=cfg.data_path)
    settings, record = apply_regime(cfg.settings, cfg.regime, score, store, _context(cfg.settings, cfg.data_path))
    return replace(cfg, settings=settings), record


def calibrated(
    settings: Settings, risks: Iterable[str], data_path: str | None = None, store: ResultStore | None = None
) -> tuple[Settings, dict[str, dict]]:
    """``settings`` with the knobs of the probes of ``risks`` calibrated to the baseline's headroom
    (:mod:`.calibration`), and the record of each calibration."""
    context = _context(settings, data_path)
    score = functools.partial(baseline_score, data_path=data_path)
    records: dict[str, dict] = {}
    for slug in dict.fromkeys(risks):
        try:
            settings, done = calibrate(settings, [RISKS[slug]], score, store, context)
        except ProbeUnsupported:
            continue  # a target the task does not support is not measured either
        records |= done
    return settings, records


def measure_seed(cfg: ValidationConfig, seed: int) -> dict:
    """Train the baseline and the defended model on one seed's splits and measure every risk on both."""
    start = time.perf_counter()
    task = seed_task(cfg.settings, seed, cfg.data_path)
    probe = RISKS[cfg.risk](cfg.settings, task)
    targets = {}
    for t in cfg.measured_targets:
        if t != cfg.risk:
            try:
                targets[t] = RISKS[t](cfg.settings, task)
            except ProbeUnsupported:
                continue
    arms = {"baseline": DefensePlugin(cfg.settings, task), "defended": DEFENSES[cfg.defense](cfg.settings, task)}
    train = probe.alter_training_data(task.train, seed)
    deployed = {arm: deploy(defense, train, seed) for arm, defense in arms.items()}
    for arm, d in deployed.items():
        missing = [o for o in probe.requires if o not in d.observables]
        if missing:
            raise MissingObservable(f"{probe.slug} needs {', '.join(missing)}, which {arms[arm].slug} does not expose")
    risks: dict[str, dict[str, Measurement]] = {arm: {} for arm in arms}
    for arm, m in compare(probe, deployed, train, seed).items():
        risks[arm][probe.slug] = _as_score(m, cfg.metric, f"{probe.slug} on {arms[arm].slug}")
    if targets:
        clean = deployed if train is task.train else {a: deploy(d, task.train, seed) for a, d in arms.items()}
        for slug, target in targets.items():
            for arm, m in compare(target, clean, task.train, seed).items():
                risks[arm][slug] = m
    record: dict[str, Any] = {"seed": seed}
    for arm, d in deployed.items():
        record[arm] = {
            "utility": accuracy(d.model, task.test),
            "metadata": d.metadata,
            "risks": {slug: asdict(m) for slug, m in risks[arm].items()},
            "model_digest": parameter_digest(d.model),
            "observables": sorted(d.observables),
        }
    record["runtime_s"] = time.perf_counter() - start
    return record


def _as_score(m: Measurement, metric: str | None, where: str) -> Measurement:
    """``m`` scored by its raw ``metric`` (when one is declared)."""
    if metric is None:
        return m
    if metric not in m.raw:
        raise ProbeUnsupported(f"{where} does not report {metric} under these settings (e.g. the attack kind)")
    return replace(m, score=m.raw[metric])


def _mean_dict(dicts: Iterable[dict]) -> dict:
    dicts = list(dicts)
    keys = [k for k, v in dicts[0].items() if isinstance(v, int | float)]
    return {k: float(np.mean([d[k] for d in dicts])) for k in keys}


def _effect(
    records: list[dict], risk: str, settings: Settings, metric: str | None = None, max_seeds: int | None = None
) -> tuple[PairedEffect, dict, str]:
    """The paired effect on ``risk``'s score (its raw ``metric`` when one is declared), as an object and as a
    report, and its direction; with ``max_seeds``, the sequential effect of a look of that plan (:mod:`.sequential`,
    its record under ``sequential``)."""
    measured = [[r[arm]["risks"][risk] for r in records] for arm in ("baseline", "defended")]
    score = [[m["raw"][metric] if metric else m["score"] for m in arm] for arm in measured]
    looked: dict[str, Any] = {}
    if max_seeds is None:
        e = paired_effect(*score)
    else:
        e, looked["sequential"] = sequential_effect(score[0], score[1], max_seeds)
    scale = RISKS[risk].scale_of(metric)
    smallest = min_effect_band(e.baseline, scale)
    report = {"metric": metric or RISKS[risk].metric_for(settings), **e.as_dict(),
              "min_effect": in_direction(smallest, e.difference), "min_effect_band": list(smallest),
              "chance": scale.chance, "ceiling": scale.ceiling, "evidence": evidence(e, smallest),
              **looked}  # fmt: skip
    return e, report, direction(e, smallest)


def applicable(records: list[dict], risk: str, metric: str | None = None) -> bool:
    """False when the defended model is the baseline on every seed and the probe reads none of the observables
    the defense adds: the score cannot differ, whatever the defense does (the cell is ``not-applicable``)."""
    if not all("model_digest" in r["baseline"] for r in records):
        return True  # measured before models were fingerprinted: not decidable, so not excluded
    identical = all(r["baseline"]["model_digest"] == r["defended"]["model_digest"] for r in records)
    added = {o for r in records for o in r["defended"]["observables"]} - {
        o for r in records for o in r["baseline"]["observables"]
    }
    return not identical or bool(added & RISKS[risk].observables_read(metric))


def summarize(cfg: ValidationConfig, records: list[dict], runtime_s: float, max_seeds: int | None = None) -> dict:
    """The measurement document: the ``validate --json`` document (DESIGN.md) less ``prediction`` and
    ``verdict``, which a judge adds; ``max_seeds``: the records are a look of sequential seeds up to it."""
    _, effect, observed = _effect(records, cfg.risk, cfg.settings, cfg.metric, max_seeds)
    effectiveness = {}
    for t in cfg.measured_targets:
        metric = DEFENSES[cfg.defense].target_metrics.get(t)  # e.g. unlearning: the deleted records' membership
        measured = [r[arm]["risks"] for r in records for arm in ("baseline", "defended")]
        if all(t in risks and metric in (None, *risks[t]["raw"]) for risks in measured):
            _, report, obs = _effect(records, t, cfg.settings, metric, max_seeds)
            report.pop("sequential", None)  # the cell's looks are the risk's
            effectiveness[t] = {**report, "observed": obs}
    # Effective when at least one intended risk significantly decreases: a defense's KB targets may
    # be several (DP: membership inference and data reconstruction), and one working is the defense
    # working; each target's own effect is reported in ``effectiveness``.
    effective = any(v["observed"] == "decrease" for v in effectiveness.values()) if effectiveness else None
    arms = ("baseline", "defended")
    utility = {arm: float(np.mean([r[arm]["utility"] for r in records])) for arm in arms}
    doc: dict[str, Any] = {
        "defense": cfg.defense,
        "risk": cfg.risk,
        "observed": observed,
        "effect": effect,
        "applicable": applicable(records, cfg.risk, cfg.metric),
        "defense_effective": effective,
        "effectiveness": effectiveness,
        "utility": {"metric": "accuracy", **utility, "difference": utility["defended"] - utility["baseline"]},
        "raw": {arm: _mean_dict(r[arm]["risks"][cfg.risk]["raw"] for r in records) for arm in arms},
        "metadata": _mean_dict(r["defended"]["metadata"] for r in records),
        "seeds": len(records),
        "seed_list": [r["seed"] for r in records],
        "dataset": cfg.settings.data_name,
        "settings": cfg.settings.as_dict(),
        "params": plugin_params(cfg.settings, cfg.plugins.values()),
        "config_hash": cfg.hash(),
        "code_version": code_version(),
        "compute_s": float(sum(r["runtime_s"] for r in records)),
        "runtime_s": runtime_s,
    }
    if "epsilon" in doc["metadata"]:
        doc["epsilon"] = doc["metadata"]["epsilon"]
    return doc


def run_seeds(
    key: str,
    seeds: int,
    measure: Callable[[int], dict],
    store: ResultStore | None = None,
    on_seed: Callable[[int, bool], None] | None = None,
    workers: Workers = 1,
    prepare: Callable[[list[int]], None] | None = None,
) -> list[dict]:
    """Records of seeds ``0..seeds-1`` under store key ``key``: each missing seed is measured and saved at once
    (so an interrupted run resumes), stored ones are reused. ``on_seed(seed, cached)`` follows each seed.
    ``prepare(seeds)``, when given, trains ahead what ``measure`` will ask the deployment cache for on ``seeds``
    (:func:`trained_ahead`): called here before the missing seeds are measured in this process, and by an executor
    before it measures several of them in one worker (:class:`~.executors.Job`).

    ``workers``: a number of local processes, or an :class:`~.executors.Executor` (e.g. a Ray cluster). More than one
    process measures the missing seeds at once (``measure`` must then pickle, e.g. a ``functools.partial`` of a
    module-level function; the model factories registered in this process that a worker can import are registered
    there too, :func:`.models.shipment`). A seed's record depends on its seed alone (every training and probe seeds
    torch itself), so the records are those one process would measure; they are saved here (workers never write the
    store), and ``on_seed`` called, as they finish, after the stored seeds. On an executor that reports failed seeds
    instead of stopping (Ray), the other seeds finish and are saved first, then the failures are raised
    (:func:`.executors.raise_failures`).

    A store that cannot be written loses no seed: the store warns once (:class:`~.store.StoreWriteWarning`)
    and skips its writes, and the records measured here are returned all the same."""
    if seeds < 2:
        raise ValueError("a paired comparison needs at least 2 seeds")
    done = store.runs(key) if store else {}

    def finish(seed: int, record: dict | None) -> None:
        if record is not None:
            done[seed] = record
            if store:
                store.save_run(key, seed, record)
        if on_seed:
            on_seed(seed, record is None)

    missing = [seed for seed in range(seeds) if seed not in done]
    executor = as_executor(workers)
    if isinstance(executor, LocalExecutor) and (executor.workers <= 1 or len(missing) <= 1):
        with _ahead(prepare, missing):
            for seed in range(seeds):
                finish(seed, None if seed in done else measure(seed))
    else:
        for seed in range(seeds):
            if seed in done:
                finish(seed, None)
        jobs = [Job(key, seed, measure, prepare) for seed in missing]
        raise_failures(executor.run(jobs, lambda job, record: finish(job.seed, record)))
    return [done[seed] for seed in range(seeds)]


def available_cpus() -> int:
    """The CPUs this process may run on (the default number of seed workers)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_validation(
    cfg: ValidationConfig,
    seeds: int | Auto,
    judge: Judge,
    store: ResultStore | None = None,
    on_seed: Callable[[int, bool], None] | None = None,
    workers: Workers = 1,
    annotate: dict | None = None,
    on_look: Callable[[int, int], None] | None = None,
) -> dict:
    """Resolve the regime (:func:`in_regime`), calibrate the probes' knobs (:func:`calibrated`), run seeds
    ``0..seeds-1`` (reusing those already in ``store``; the missing ones in ``workers`` processes at once),
    summarize, and let ``judge`` add the prediction and the verdict; the result is stored.

    ``seeds`` :class:`~.sequential.Auto`: sequential seeds, a group at a time until the cell is decided or its
    ``max_seeds`` are spent (``Auto.at``: only the look at that many seeds); the document's ``sequential`` records
    the looks, ``seeds_used`` and why it ``stopped`` (None: undecided at a look short of the budget).
    ``on_look(first, last)`` is called before each look's seeds ``first..last-1`` run.

    ``on_seed(seed, cached)`` is called after each seed, e.g. to advance a progress bar; ``annotate`` is added to
    the document (e.g. the literature setting's facts).
    """
    start = time.perf_counter()
    cfg, regime = in_regime(cfg, store)
    settings, calibration = calibrated(cfg.settings, (cfg.risk, *cfg.measured_targets), cfg.data_path, store)
    cfg = replace(cfg, settings=settings)
    key = cfg.hash()

    def look(first: int, n: int, max_seeds: int | None) -> dict:
        def seen(seed: int, cached: bool) -> None:  # a look's seeds only: the earlier looks reported theirs
            if on_seed and seed >= first:
                on_seed(seed, cached)

        records = run_seeds(key, n, functools.partial(measure_seed, cfg), store, seen, workers, trained_ahead(cfg))
        return summarize(cfg, records, time.perf_counter() - start, max_seeds)

    if isinstance(seeds, int):
        doc = look(0, seeds, None)
    else:
        plan = looks(seeds.max_seeds)
        for n in [seeds.at] if seeds.at else plan:
            first = max([k for k in plan if k < n], default=0)
            if on_look:
                on_look(first, n)
            doc = look(first, n, seeds.max_seeds)
            stopped = decision(doc["effect"], seeds.max_seeds)
            doc["sequential"] = doc["effect"].pop("sequential") | {"seeds_used": n, "stopped": stopped}
            if stopped:
                break
    doc |= {"calibration": calibration, "regime": regime}
    doc |= data_record(cfg.settings)
    doc = judge(doc | {"setting": {"name": cfg.setting}} | (annotate or {}))
    if store:
        store.save_validation(key, cfg.as_dict(), doc)
    return doc
