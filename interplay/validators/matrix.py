"""The whole defense x risk matrix in one run: every registered cell validated, tasks and deployments shared.

:func:`run_matrix` validates cell after cell (each through :func:`~interplay.validators.experiment.run_validation`,
so every finished seed is in the store and an interrupted run resumes where it stopped) inside one
:func:`~interplay.validators.experiment.sharing_deployments` block, so the baseline and each defense are
trained once per seed. A cell without a plugin, or whose probe or defense does not apply to the task (what it
``needs`` from the data, :mod:`.needs`), is a record too. On a Ray cluster (:mod:`.executors`) every cell's missing
seeds go out at once, and each worker shares the models of the seeds it is given in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interplay.validators.data import DataError
from interplay.validators.deployment_cache import DeploymentCache
from interplay.validators.executors import Workers, as_executor, run_batched
from interplay.validators.experiment import Judge, ValidationConfig, run_validation, sharing_deployments
from interplay.validators.registry import DEFENSES, RISKS
from interplay.validators.risks.base import ProbeUnsupported
from interplay.validators.sequential import Auto, looks
from interplay.validators.settings import Settings, load_task
from interplay.validators.store import ResultStore

NOT_REGISTERED, UNSUPPORTED, FAILED = "not registered", "unsupported", "failed"


@dataclass(frozen=True)
class CellSetting:
    """A cell's own conditions (a literature setting): its settings, data path, primary metric, regime, and the
    ``setting`` record for its document."""

    settings: Settings
    data_path: str | None = None
    metric: str | None = None
    regime: str | None = None
    record: dict = field(default_factory=lambda: {"name": "generic"})


@dataclass(frozen=True)
class MatrixCell:
    """One defense x risk pair to validate: the judge that adds its prediction and verdict, what the literature
    reports (or ``unexplored``), the defense's intended risks, and the cell's own conditions (None: the run's)."""

    defense: str
    risk: str
    judge: Judge
    prediction: str
    literature: str
    targets: tuple[str, ...] = ()
    setting: CellSetting | None = None

    @property
    def registered(self) -> bool:
        return self.defense in DEFENSES and self.risk in RISKS


def run_matrix(
    cells: list[MatrixCell],
    settings: Settings,
    seeds: int | Auto,
    store: ResultStore | None = None,
    data_path: str | None = None,
    advance: Callable[[MatrixCell, int], None] | None = None,
    workers: Workers = 1,
    on_look: Callable[[int, int, int], None] | None = None,
) -> list[dict]:
    """One record per cell: the validation document plus ``literature``, or a ``not registered`` /
    ``unsupported`` record (``observed`` None), decided on seed 0's task before anything of the cell is trained.
    ``advance(cell, n)`` reports ``n`` more seeds done.

    ``seeds`` :class:`~.sequential.Auto`: the matrix runs look by look, each look's seed group for every cell still
    undecided (so the cells of a look share its models), until each is decided or has spent ``max_seeds``;
    ``on_look(first, last, cells)`` is called before a look runs seeds ``first..last-1`` of ``cells`` cells.

    ``workers``: this process (the default: cell after cell, sharing one deployment cache), or an executor that
    batches (Ray, :mod:`.executors`): every cell's missing seeds go out together and its workers share models seed
    group by seed group. There, a cell whose seed raised is a ``failed`` record naming the seed, its configuration
    and the error, and the other cells complete."""
    if isinstance(seeds, int):
        return _look(cells, settings, seeds, store, data_path, advance, workers)
    records: list[dict | None] = [None] * len(cells)
    going = list(range(len(cells)))
    first = 0
    for n in looks(seeds.max_seeds):
        if on_look:
            on_look(first, n, sum(cells[i].registered for i in going))
        at = replace(seeds, at=n)
        done = _look([cells[i] for i in going], settings, at, store, data_path, advance, workers, first)
        for i, record in zip(going, done, strict=True):
            records[i] = record
        going = [i for i, r in zip(going, done, strict=True) if "sequential" in r and not r["sequential"]["stopped"]]
        first = n
        if not going:
            break
    return records  # type: ignore[return-value]


def _look(
    cells: list[MatrixCell],
    settings: Settings,
    seeds: int | Auto,
    store: ResultStore | None,
    data_path: str | None,
    advance: Callable[[MatrixCell, int], None] | None,
    workers: Workers,
    first: int = 0,
) -> list[dict]:
    """The records of ``cells`` at ``seeds`` (a fixed count, or one look of sequential seeds whose new seeds
    start at ``first``)."""
    executor = as_executor(workers)
    tasks: dict[tuple, Any] = {}
    new_seeds = seeds if isinstance(seeds, int) else (seeds.at or 0) - first

    def first_task(s: Settings, path: str | None, cache: DeploymentCache | None) -> Any:
        if cache is not None:
            return cache.task(s, 0, Path(path) if path else None)
        if (s, path) not in tasks:
            tasks[s, path] = load_task(s, 0, Path(path) if path else None)
        return tasks[s, path]

    def cell_task(own: CellSetting, cache: DeploymentCache | None) -> Any:
        """The cell's first task; data its literature setting chose that cannot be read (Fashion-MNIST not installed)
        makes the cell unsupported, with the reason, rather than stopping the matrix."""
        try:
            return first_task(own.settings, own.data_path, cache)
        except DataError as exc:
            if own.settings.dataset == settings.dataset:
                raise
            raise ProbeUnsupported(f"its literature setting runs it on {own.settings.data_name}: {exc}") from None

    def cell_run(c: MatrixCell, base: dict, cache: DeploymentCache | None) -> Callable[[Workers, Any], dict]:
        def run(w: Workers, on_seed: Callable[[int, bool], None] | None) -> dict:
            if not c.registered:
                return base | {"observed": None, "verdict": NOT_REGISTERED}
            done = 0

            def counted(seed: int, cached: bool) -> None:
                nonlocal done
                done += 1
                if on_seed:
                    on_seed(seed, cached)

            try:
                own = c.setting or CellSetting(settings, data_path)
                task = cell_task(own, cache)
                DEFENSES[c.defense](own.settings, task)  # what each needs from the data, before any training
                RISKS[c.risk](own.settings, task)
                cfg = ValidationConfig(
                    c.defense, c.risk, own.settings, c.targets, own.data_path, own.metric, own.regime,
                    own.record["name"],
                )  # fmt: skip
                doc = run_validation(cfg, seeds, c.judge, store, counted, w, annotate={"setting": own.record})
                return doc | base
            except ProbeUnsupported as exc:  # includes a missing observable
                if on_seed:
                    for _ in range(new_seeds - done):
                        on_seed(-1, False)
                return base | {"observed": None, "verdict": UNSUPPORTED, "reason": str(exc)}

        return run

    bases = [
        {"defense": c.defense, "risk": c.risk, "prediction": c.prediction, "literature": c.literature,
         "registered": c.registered}
        for c in cells
    ]  # fmt: skip
    step = (lambda i, n: advance(cells[i], n)) if advance else None
    with nullcontext(None) if executor.batches else sharing_deployments() as cache:
        results = run_batched(workers, [cell_run(c, b, cache) for c, b in zip(cells, bases, strict=True)], store, step)
    records = []
    for base, result in zip(bases, results, strict=True):
        if isinstance(result, dict):
            records.append(result)
            continue
        error = result[0].exception()  # a list of the cell's failed seeds (a batching executor)
        if isinstance(error, ProbeUnsupported):
            records.append(base | {"observed": None, "verdict": UNSUPPORTED, "reason": str(error)})
        else:
            reasons = "; ".join(str(f.exception()) for f in result)
            records.append(base | {"observed": None, "verdict": FAILED, "reason": reasons})
    return records
