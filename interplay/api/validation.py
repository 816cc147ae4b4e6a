"""The API's validations: one cell, the matrix and a pair of defenses, each judged against its prediction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interplay.arguments import checked
from interplay.interactions import predict as _predict
from interplay.interactions.combos import predict_combo
from interplay.kb import KB
from interplay.results import (
    ComboValidation,
    Validation,
    ValidationMatrix,
)
from interplay.verdicts import adjust_for_multiplicity, combo_judge, validation_judge

if TYPE_CHECKING:
    pass
from interplay.api._common import (
    ExecutorLike,
    KBLike,
    ModelLike,
    Params,
    Progress,
    StoreLike,
    _kb,
    _progress,
    _select,
    read_validations,
)
from interplay.api.runs import (
    _cell_config,
    _cell_run,
    _check_data_path,
    _DataChoice,
    _first_task,
    _one_process,
    _running,
    _seed_plan,
    _seeds,
    _store,
    _workers,
    settings,
)


@checked
def validate(
    defense: str,
    risk: str,
    *,
    dataset: str = "synthetic",
    preset: str = "default",
    seeds: int | str | None = None,
    max_seeds: int | None = None,
    params: Params = None,
    context: Mapping[str, str] | None = None,
    data_path: str | Path | None = None,
    store: StoreLike = None,
    jobs: int | None = None,
    kb: KBLike = None,
    progress: Progress | None = None,
    setting: str = "auto",
    label: str | None = None,
    sensitive: str | None = None,
    drop: Iterable[str] | str | None = None,
    n_train: int | None = None,
    model: ModelLike = None,
    mediators: bool = False,
    executor: ExecutorLike = "local",
    address: str | None = None,
) -> Validation:
    """Train baseline and defended models over paired seeds, measure the risk on both, judge the prediction.

    ``seeds``: a number (default: the preset's), or ``"auto"``: groups of 8 seeds until the cell is decided or
    ``max_seeds`` (default 32) are spent, by a stopping rule valid under optional stopping (docs/validators.md;
    the document's ``sequential`` says which seeds ran and why it stopped).

    ``mediators``: also measure the factors on the prediction's paths (:func:`measure`, same settings and seeds)
    and say, path by path, whether each moved as the path predicts (``mediators`` in the document).

    ``setting``: ``literature`` runs the cell under the conditions its papers state (the KB's declared facts:
    data kind, regime, threat route, attack kind, fairness notion, subgroup, metric; :mod:`.validators.literature`),
    ``generic`` under the shared settings, ``auto`` (default) literature where the KB declares the cell's setting.

    Every seed is stored as it finishes (``store``: a path; default: the user cache's store), so re-running is
    instant and an interrupted run resumes; ``jobs`` seeds are measured at once in separate processes (default:
    the CPUs available; the records are the same; one process, with a warning, for a model factory that a worker
    process cannot import, e.g. one defined in a notebook). Every input is checked, and the defense and the risk's
    probe built on the data, before anything is trained or stored: one that does not apply (what it needs from
    the data) raises ``ProbeUnsupported``.

    ``executor``: ``local`` (the default) or ``ray``, a Ray cluster at ``address`` (``HOST:PORT``, ``auto``; default
    ``$RAY_ADDRESS``, else a local Ray is started) with ``jobs`` workers (default: its CPUs); the records are the
    same (docs/cluster.md). An :class:`~.validators.executors.Executor` instance is used as it is and left open.

    ``dataset``, ``label``, ``sensitive``, ``drop``, ``n_train`` and ``model``: a built-in dataset or the user's own
    data and model, see :func:`settings` and docs/your-data.md.
    """
    from interplay.interactions.path_effects import compare as compare_effects
    from interplay.validators.experiment import run_validation
    from interplay.validators.registry import DEFENSES, RISKS

    k = _kb(kb)
    d, r = k.resolve(defense, "defense"), k.resolve(risk, "risk")
    ctx = dict(context or {})
    prediction = _predict(k, d, r, "graph", ctx).direction
    _check_data_path(dataset, data_path)
    choice = _DataChoice(label, sensitive, drop, n_train, model)
    s, run, path, record = _cell_run(k, d, r, setting, dataset, preset, params, ctx, data_path, choice)
    cfg = _cell_config(k, d, r, s, run, path, record)
    plan = _seed_plan(seeds, max_seeds, preset)
    task = _first_task(s, path)
    DEFENSES[d](s, task)  # ProbeUnsupported (what each needs from the data), before any training
    RISKS[r](s, task)
    bar = _progress(progress)
    name = f"{d} -> {r} on {s.data_name}"
    if isinstance(plan, int):
        bar.start(plan, name)
    most = plan if isinstance(plan, int) else plan.max_seeds
    with _running(executor, address, jobs, s, lambda: _workers(jobs, s), most) as workers:
        doc = run_validation(
            cfg,
            plan,
            validation_judge(prediction),
            _store(store),
            lambda seed, cached: bar.advance(),
            workers,
            {"setting": record},
            lambda first, last: bar.start(last - first, f"{name}, seeds {first}-{last - 1}"),
        )
        if mediators:
            doc["mediators"] = _mediators(k, d, r, ctx, cfg, doc["seeds"], store, workers, bar)
            doc["mediators"]["effect"] = compare_effects(doc["mediators"]["predicted_effect"], doc["effect"])
    return Validation.from_dict(doc)


def _mediators(k: KB, d: str, r: str, ctx: dict, cfg: Any, n: int, store: StoreLike, workers: Any, bar: Any) -> dict:
    """The factors on the paths of ``d -> r`` measured under the validation's settings (its regime resolved), per
    path whether each moved as the path predicts (:mod:`.interactions.mediators`), and the effect the linear path
    model predicts from these measurements and the store's sweep slopes (:mod:`.interactions.path_effects`)."""
    from interplay.interactions.mediators import path_steps
    from interplay.interactions.path_effects import Coefficient, coefficients, predicted_effect
    from interplay.validators.experiment import in_regime
    from interplay.validators.factors import ESTIMATORS
    from interplay.validators.measure import MeasureConfig, factor_edges, run_measure

    p = _predict(k, d, r, "graph", ctx)
    coefs = coefficients(read_validations(store))
    on_paths = tuple(dict.fromkeys(e.target for q in p.paths for e in q.edges[:-1] if e.target in ESTIMATORS))
    if not on_paths:
        return {"factors": {}, "paths": path_steps(p, {}), "predicted_effect": predicted_effect(p.paths, coefs)}
    resolved, _ = in_regime(cfg, _store(store))
    bar.start(n, f"mediators of {d} -> {r}")
    measured = run_measure(
        MeasureConfig(d, resolved.settings, on_paths, resolved.data_path), n, factor_edges(k.edges, d),
        _store(store), lambda seed, cached: bar.advance(), workers,
    )  # fmt: skip
    observed = {f: row["observed"] for f, row in measured["factors"].items()}
    for q in p.paths:  # this run's measurement of the defense's first step, in place of the store's
        row = measured["factors"].get(q.edges[0].target)
        c = Coefficient.from_effect(row, "difference", f"measure {measured.get('config_hash', '')}") if row else None
        if c is not None:
            coefs[q.edges[0].id] = c
    return {
        "factors": measured["factors"],
        "paths": path_steps(p, observed),
        "predicted_effect": predicted_effect(p.paths, coefs),
    }


@checked
def validate_matrix(
    *,
    defenses: Iterable[str] | str | None = "sok",
    risks: Iterable[str] | str | None = None,
    dataset: str = "synthetic",
    preset: str = "default",
    seeds: int | str | None = None,
    max_seeds: int | None = None,
    params: Params = None,
    context: Mapping[str, str] | None = None,
    data_path: str | Path | None = None,
    store: StoreLike = None,
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
) -> ValidationMatrix:
    """Every selected defense (default the SoK's seven, :func:`select_defenses`) x risk cell validated, sharing the
    trained models; a cell without a plugin or whose probe does not apply is a record too (``observed`` None). Across
    the cells, Benjamini-Hochberg q-values decide the directions (``effect.q_value``); each cell's stored validation
    keeps its own p-value decision. ``setting`` and the user's data and model as for :func:`validate`, per cell.
    ``seeds="auto"``: the matrix runs look by look, each look's group of 8 seeds for every cell still undecided
    (sharing that look's models across its cells), each cell up to ``max_seeds``; BH then reads each cell's
    sequential p-value.

    ``executor`` ``ray`` (``address``, ``jobs`` as for :func:`validate`) sends every cell's missing seeds to the
    cluster at once; each worker keeps the models of the seeds it is given, and a cell whose seed raised is a
    ``failed`` record while the others complete (docs/cluster.md). ``jobs`` is the Ray workers': the local run
    is one process."""
    from interplay.validators.matrix import CellSetting, MatrixCell, run_matrix

    k = _kb(kb)
    ctx = dict(context or {})
    choice = _DataChoice(label, sensitive, drop, n_train, model)
    s = settings(dataset, preset, params, ctx, data_path, k, **choice.as_kwargs())
    _check_data_path(dataset, data_path)
    plan = _seed_plan(seeds, max_seeds, preset)
    cells = []
    for d in _select(k, defenses, "defense"):
        for r in _select(k, risks, "risk"):
            obs = k.observation(d, r)
            prediction = _predict(k, d, r, "graph", ctx).direction
            own, run, path, record = _cell_run(k, d, r, setting, dataset, preset, params, ctx, data_path, choice)
            cell_setting = (
                CellSetting(own, path, run.metric, run.regime, record) if run is not None else None
            )  # fmt: skip
            cells.append(
                MatrixCell(
                    d,
                    r,
                    validation_judge(prediction),
                    prediction,
                    obs.direction if obs else "unexplored",
                    tuple(k.defenses[d].targets),
                    cell_setting,
                )
            )
    bar = _progress(progress)
    registered = sum(c.registered for c in cells)
    if isinstance(plan, int):
        bar.start(plan * registered, f"{s.data_name}: {registered} cells")
    most = plan if isinstance(plan, int) else plan.max_seeds
    with _running(executor, address, jobs, s, lambda: _one_process(jobs), most * len(cells)) as workers:
        records = run_matrix(
            cells,
            s,
            plan,
            _store(store),
            str(data_path) if data_path else None,
            lambda c, m: bar.advance(m, f"{c.defense} -> {c.risk}"),
            workers,
            lambda first, last, going: bar.start(
                (last - first) * going, f"{s.data_name}: seeds {first}-{last - 1} of {going} undecided cells"
            ),
        )
    adjust_for_multiplicity(records)
    return ValidationMatrix.from_records(records)


@checked
def validate_combo(
    a: str,
    b: str,
    *,
    dataset: str = "synthetic",
    preset: str = "default",
    seeds: int | None = None,
    params: Params = None,
    context: Mapping[str, str] | None = None,
    data_path: str | Path | None = None,
    store: StoreLike = None,
    jobs: int | None = None,
    kb: KBLike = None,
    progress: Progress | None = None,
    label: str | None = None,
    sensitive: str | None = None,
    drop: Iterable[str] | str | None = None,
    n_train: int | None = None,
    model: ModelLike = None,
    executor: ExecutorLike = "local",
    address: str | None = None,
) -> ComboValidation:
    """Train with ``a``, with ``b`` and with both; judge the predicted conflict on each defense's own targets.
    When the defenses' targets have probes but none applies to the data, ``ProbeUnsupported`` is raised before
    anything is trained or stored. The user's data and model, ``jobs``, ``executor`` and ``address`` as for
    :func:`validate`."""
    from interplay.validators.combination import ComboConfig, run_combo
    from interplay.validators.registry import DEFENSES, RISKS
    from interplay.validators.risks.base import ProbeUnsupported

    k = _kb(kb)
    da, db = k.resolve(a, "defense"), k.resolve(b, "defense")
    ctx = dict(context or {})
    p = predict_combo(k, da, db, ctx)
    choice = _DataChoice(label, sensitive, drop, n_train, model)
    s = settings(dataset, preset, params, ctx, data_path, k, **choice.as_kwargs())
    _check_data_path(dataset, data_path)
    cfg = ComboConfig(
        da,
        db,
        s,
        tuple(k.defenses[da].targets),
        tuple(k.defenses[db].targets),
        str(data_path) if data_path else None,
    )
    n = _seeds(seeds, preset)
    targets = sorted({*cfg.measured("a"), *cfg.measured("b")})
    task = _first_task(s, str(data_path) if data_path else None)
    DEFENSES[da](s, task)  # ProbeUnsupported (what each needs from the data), before any training
    DEFENSES[db](s, task)
    if targets:
        reasons = []
        for t in targets:
            try:
                RISKS[t](s, task)
                break
            except ProbeUnsupported as exc:
                reasons.append(str(exc))
        else:
            raise ProbeUnsupported(
                f"no target risk of {da} or {db} can be measured on {s.data_name}: {'; '.join(reasons)}"
            )
    predicted = {side.defense: side.status for side in p.sides} | {"pair": p.verdict}
    bar = _progress(progress)
    bar.start(n, f"{da} + {db} on {s.data_name}")
    with _running(executor, address, jobs, s, lambda: _workers(jobs, s), n) as workers:
        doc = run_combo(cfg, n, combo_judge(predicted), _store(store), lambda seed, cached: bar.advance(), workers)
    return ComboValidation.from_dict(doc)
