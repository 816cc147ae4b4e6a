"""The API's studies beyond one validation: factor sweeps, measurements, reproductions; stored results and plugins."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from interplay.arguments import checked
from interplay.errors import UsageError
from interplay.interactions import predict as _predict
from interplay.interactions.claims import claimed_edges
from interplay.kb import KB, UnknownName
from interplay.results import (
    FactorMeasurement,
    Reproduction,
    Sweep,
    ValidationMatrix,
)
from interplay.verdicts import benjamini_hochberg, validation_judge

if TYPE_CHECKING:
    pass
from interplay.api._common import (
    REPRODUCTIONS,
    ExecutorLike,
    KBLike,
    ModelLike,
    Params,
    Progress,
    StoreLike,
    _kb,
    _progress,
)
from interplay.api.runs import (
    _cell_config,
    _cell_run,
    _DataChoice,
    _first_task,
    _local_jobs,
    _running,
    _seeds,
    _store,
    _workers,
    settings,
)


@checked
def sweep(
    defense: str,
    risk: str,
    factor: str,
    values: Iterable[str] | str,
    *,
    dataset: str = "synthetic",
    preset: str = "default",
    seeds: int | None = None,
    params: Params = None,
    store: StoreLike = None,
    out: str | Path | None = None,
    kb: KBLike = None,
    progress: Progress | None = None,
    setting: str = "auto",
    label: str | None = None,
    sensitive: str | None = None,
    drop: Iterable[str] | str | None = None,
    n_train: int | None = None,
    model: ModelLike = None,
    jobs: int | None = None,
    executor: ExecutorLike = "local",
    address: str | None = None,
) -> Sweep:
    """Validate ``defense -> risk`` at each value of ``factor`` (D1-D4, M1) and test the KB's claim factor -> risk;
    the verdict is stored as sweep evidence on the claimed edges. ``out``: a file stem for the PNG and PDF plot.

    ``values``: 2 to 50 different values (strings, or one comma-separated string), each in the factor's range,
    checked before anything is built: D1 (training records) 50 to 100000 on synthetic data, 1500 on digits,
    30000 on Adult; D2 (minority fraction) 0.01 to 0.5; D3 (attributes) from the stable, spurious and proxy
    attributes to 1000 on synthetic data, 1 to Adult's attributes on Adult; D4 (spurious attributes) 0 to the
    attributes left by the stable and proxy ones; M1 a capacity preset.

    ``setting`` as for :func:`validate`; a literature setting's regime is resolved at the base settings, and the
    swept factor varies on top of it. The user's data and model as for :func:`validate`: on a user's file D1 goes
    up to its rows less two; M1 sweeps the capacity presets, so it takes no ``model``.

    ``jobs``: local processes per value (default one, the seeds in this process); ``executor`` and ``address`` as for
    :func:`validate` (on Ray every value's seeds go out together).
    """
    import itertools
    from dataclasses import replace

    from interplay.validators.experiment import in_regime
    from interplay.validators.registry import DEFENSES, RISKS
    from interplay.validators.sweep import KNOBS, SweepError, run_sweep

    k = _kb(kb)
    d, r = k.resolve(defense, "defense"), k.resolve(risk, "risk")
    factor = factor.upper()
    if factor not in KNOBS:
        raise SweepError(f"unknown factor {factor!r}; sweepable factors: {', '.join(KNOBS)}")
    items = [values] if isinstance(values, str) else values
    given = (v.strip() for item in items for v in str(item).split(",") if v.strip())
    vals = list(itertools.islice(given, 51))  # lazily: a huge list of values is refused, not built
    if len(vals) < 2:
        raise SweepError("a sweep needs at least two values (and at most 50)")
    if len(vals) > 50:
        raise SweepError("a sweep takes at most 50 values")
    if factor == "M1" and model is not None:
        raise SweepError("M1 sweeps the capacity presets; leave --model out (it fixes the model)")
    choice = _DataChoice(label, sensitive, drop, n_train, model)
    s, run, path, record = _cell_run(k, d, r, setting, dataset, preset, params, {}, None, choice)
    n = _seeds(seeds, preset)
    dataset = s.data_name
    knob = KNOBS[factor]
    name = knob.field(s.dataset)
    # Every value is checked at the base settings, before the store is opened or a regime's pilot is trained.
    task = _first_task(s, path)  # small at the base settings; on Adult it tells the number of attributes
    bounds: dict[str, tuple[float, float]] = {"minority_frac": (0.01, 0.5), "adult_k": (1, task.train.x.shape[1])}
    bounds["n_train"] = (50, {"synthetic": 100_000, "digits": 1_500}.get(dataset, 30_000))
    if s.source is not None:
        bounds["n_train"] = (50, task.info["rows"] - 2)
    if s.synthetic is not None:
        f = s.synthetic
        bounds["n_attributes"] = (f.n_stable + f.n_spurious + f.n_proxy, 1_000)
        bounds["n_spurious"] = (0, f.n_attributes - f.n_stable - f.n_proxy)
    for v in vals:
        if name in bounds:
            whole = name != "minority_frac"
            try:
                x = int(v) if whole else float(v)
            except ValueError:
                raise SweepError(f"{factor} ({name}) needs a {'whole ' * whole}number, not {v!r}") from None
            lo, hi = bounds[name]
            if not lo <= x <= hi:
                raise SweepError(f"{factor} ({name}) must be from {lo:g} to {hi:g} on {dataset}, not {v}")
        knob.apply(s, v)  # a capacity that is no preset
    levels = [knob.level(v) for v in vals]
    if len(set(levels)) < len(levels):
        raise SweepError(f"repeated values in {', '.join(vals)}: each value of a sweep must differ")
    DEFENSES[d](s, task)  # ProbeUnsupported (what each needs from the data), before any training
    RISKS[r](s, task)
    cfg, regime = in_regime(_cell_config(k, d, r, s, run, path, record), _store(store))
    cfg = replace(cfg, regime=None)
    prediction = _predict(k, d, r).direction
    bar = _progress(progress)
    bar.start(len(vals) * n, f"sweep {factor} for {d} -> {r}")
    with _running(executor, address, jobs, s, _local_jobs(jobs), n * len(vals)) as workers:
        doc = run_sweep(
            cfg,
            factor,
            vals,
            n,
            validation_judge(prediction),
            claimed_edges(k, KNOBS[factor].node, r),
            _store(store),
            bar.advance,
            {"setting": record, "regime": regime},
            workers,
        )
    _add_q_values([p["effect"] for p in doc["points"]])
    if out is not None:
        doc["plots"] = [str(p) for p in _plot_sweep(doc, Path(out))]
    return Sweep.from_dict(doc)


def _plot_sweep(doc: dict, stem: Path) -> list[Path]:
    """The sweep's curves (:func:`interplay.export.charts.sweep_curves`) at ``stem`` as PNG and PDF."""
    from interplay.export import charts

    fig = charts.sweep_curves(doc)
    return [charts.save(fig, stem.with_suffix(suffix)) for suffix in (".png", ".pdf")]


def _entity_id(k: KB, name: str) -> str:
    """The KB id of ``name`` (a slug, code or alias), or ``name`` itself when the KB does not know it."""
    try:
        return k.resolve(name)
    except UnknownName:
        return name


@checked
def measure(
    defense: str,
    *,
    factors: Iterable[str] | str | None = None,
    dataset: str = "synthetic",
    preset: str = "default",
    seeds: int | None = None,
    params: Params = None,
    data_path: str | Path | None = None,
    store: StoreLike = None,
    jobs: int | None = None,
    kb: KBLike = None,
    progress: Progress | None = None,
    executor: ExecutorLike = "local",
    address: str | None = None,
) -> FactorMeasurement:
    """Measure the factors (default: every one with an estimator) on the baseline and ``defense`` over paired
    seeds, and judge the KB's defense -> factor edges (:mod:`.validators.measure`); each seed and the verdicts on
    the edges are stored (the verdicts as measured evidence the reasoner may read). ``jobs``, ``executor`` and
    ``address`` as for :func:`validate`."""
    from interplay.validators.factors import ESTIMATORS, UnknownFactor
    from interplay.validators.measure import MeasureConfig, factor_edges, run_measure

    k = _kb(kb)
    d = k.resolve(defense, "defense")
    if factors is None:
        chosen = tuple(ESTIMATORS)
    else:
        given = factors.split(",") if isinstance(factors, str) else list(factors)
        chosen = tuple(dict.fromkeys(_entity_id(k, f.strip()) for f in given if f.strip()))
        if not chosen:
            raise UnknownFactor(f"--factors selects none; measurable: {', '.join(ESTIMATORS)}")
    s = settings(dataset, preset, params, None, data_path, k)
    path = str(data_path) if data_path else None
    cfg = MeasureConfig(d, s, chosen, path)
    n = _seeds(seeds, preset)
    bar = _progress(progress)
    bar.start(n, f"factors of {d} on {s.dataset}")
    with _running(executor, address, jobs, s, lambda: _workers(jobs, s), n) as workers:
        edges = factor_edges(k.edges, d)
        doc = run_measure(cfg, n, edges, _store(store), lambda seed, cached: bar.advance(), workers)
    return FactorMeasurement.from_dict(doc)


@checked
def reproduce(
    name: str,
    *,
    preset: str = "default",
    seeds: int | None = None,
    data_path: str | Path | None = None,
    store: StoreLike = None,
    kb: KBLike = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    executor: ExecutorLike = "local",
    address: str | None = None,
) -> Reproduction:
    """One of the SoK's Sec. 5 experiments on Adult (``sok-5.1``, ``sok-5.2``), beside the paper's figures.

    ``data_path``: the folder of the Adult files (else ``$INTERPLAY_ADULT_DIR`` or ``../shared/data/adult``).
    ``jobs``, ``executor`` and ``address`` as for :func:`sweep`."""
    from interplay.validators.reproduce import DEFAULT_SEEDS, EXPERIMENTS, steps
    from interplay.validators.reproduce import reproduce as run
    from interplay.validators.sweep import KNOBS

    if name not in REPRODUCTIONS:
        raise UsageError(f"unknown experiment {name!r}; choose {' or '.join(REPRODUCTIONS)}")
    if preset not in ("default", "quick"):
        raise UsageError(f"unknown preset {preset!r} for a reproduction; choose default or quick")
    quick = preset == "quick"
    n = _seeds(seeds if seeds is not None else (2 if quick else DEFAULT_SEEDS[name]), preset)
    settings("adult", preset, data_path=data_path)  # the Adult files, checked before anything is stored
    k = _kb(kb)
    defense, risk = EXPERIMENTS[name]
    prediction = _predict(k, defense, risk).direction
    bar = _progress(progress)
    bar.start(steps(name, quick, n), f"reproduce {name}")
    with _running(executor, address, jobs, None, _local_jobs(jobs), steps(name, quick, n)) as workers:
        doc = run(
            name,
            tuple(k.defenses[defense].targets),
            quick,
            n,
            prediction,
            validation_judge(prediction),
            lambda f: claimed_edges(k, KNOBS[f].node, risk),
            _store(store),
            bar.advance,
            str(data_path) if data_path else None,
            workers,
        )
    _add_q_values([r["effect"] for r in doc["rows"]])
    return Reproduction.from_dict(doc)


def _add_q_values(effects: list[dict]) -> None:
    """BH q-values across the settings of one sweep or reproduction, beside each p-value."""
    for e, q in zip(effects, benjamini_hochberg([e["p_value"] for e in effects]), strict=True):
        e["q_value"] = q


@checked
def results(store: StoreLike = None) -> ValidationMatrix:
    """Every validation the store holds, newest first (``interplay results --json``); the store is opened
    read-only (the default store, when it does not exist yet, holds none)."""
    from interplay.validators.store import ResultStore, default_store_path

    if store is None and not default_store_path().exists():
        return ValidationMatrix.from_records([])
    return ValidationMatrix.from_records(ResultStore(store, readonly=True).validations())


@checked
def plugins() -> list[dict]:
    """Every registered defense and risk probe with its parameters and defaults (``interplay plugins --json``)."""
    from interplay.validators.registry import catalogue

    return catalogue()
