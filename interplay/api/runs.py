"""How the API turns its arguments into a run: plugin parameters, settings, data, seeds, workers and executors."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interplay.arguments import checked
from interplay.errors import ArgumentValueError, UsageError
from interplay.kb import KB

if TYPE_CHECKING:
    from interplay.validators.settings import Settings
from interplay.api._common import ExecutorLike, KBLike, ModelLike, Params, StoreLike, _kb


def _assignments(params: Params, kb: KBLike = None) -> list[tuple[str, str, str]]:
    """``params`` as ``(plugin slug, key, value)``; a plugin may be named by a KB alias (``AT.eps=0.1``)."""
    from interplay.validators.params import parse_assignments

    if params is None:
        return []
    items = [f"{k}={_cli_value(v)}" for k, v in params.items()] if isinstance(params, Mapping) else list(params)
    k = _kb(kb)
    out = []
    for slug, key, value in parse_assignments(items):
        try:
            slug = k.resolve(slug)
        except UsageError:
            pass  # not a KB name: the registry names the valid plugins
        out.append((slug, key, value))
    return out


def _cli_value(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)


@checked
def settings(
    dataset: str = "synthetic",
    preset: str = "default",
    params: Params = None,
    context: Mapping[str, str] | None = None,
    data_path: str | Path | None = None,
    kb: KBLike = None,
    *,
    label: str | None = None,
    sensitive: str | None = None,
    drop: Iterable[str] | str | None = None,
    n_train: int | None = None,
    model: ModelLike = None,
) -> Settings:
    """The experiment settings: the shared ones of ``dataset`` and ``preset``, plugin parameters from ``params``
    (``{"adversarial-training.eps": 0.1}`` or ``["adversarial-training.eps=0.1"]``) and the threat-model
    ``context`` keys that plugin parameters declare. Checked before anything is trained.

    ``dataset``: ``synthetic``, ``digits``, ``adult``, ``fashion-mnist``, or a user's file ``csv:PATH``,
    ``parquet:PATH``, ``npz:PATH``
    (or a :class:`~interplay.dataset.Dataset`), with ``label`` (the column to predict), ``sensitive`` (a binary
    column, optional) and ``drop`` (columns to leave out) for tables; ``n_train``: the training records (else the
    preset's); ``model``: a capacity preset, ``mlp:W1,W2,...``, ``cnn[:C1,C2]``, a plugin's model name, or a factory
    ``factory(input_shape, n_classes) -> nn.Module`` (see docs/your-data.md)."""
    from interplay.validators.models import check_model
    from interplay.validators.registry import overrides

    s = _base_settings(dataset, preset, label, sensitive, drop)
    if n_train is not None:
        s = s.with_n_train(_count(n_train, "n_train", 10, 1_000_000, "train, test and aux need rows"))
    if model is not None:
        s = s.with_model(_model_spec(model))
    s = s.with_overrides(overrides(_assignments(params, kb), dict(context or {})))
    if s.dataset == "adult" or s.source is not None or n_train is not None or model is not None:
        task = _first_task(s, str(data_path) if data_path else None)  # fail fast: missing files, too few rows
        check_model(task.input_shape, task.n_classes, s.train.capacity)
    return s


def _base_settings(
    dataset: str, preset: str, label: str | None, sensitive: str | None, drop: Iterable[str] | str | None
) -> Settings:
    """The shared settings of a built-in ``dataset`` or of a user's file (with its column choices)."""
    from interplay.validators.data import DATASETS, DataError
    from interplay.validators.settings import default_settings, user_settings
    from interplay.validators.user_data import USER_KINDS, is_user_dataset, parse_source

    label = label if label is not None else getattr(dataset, "label", None)  # a Dataset carries its columns
    sensitive = sensitive if sensitive is not None else getattr(dataset, "sensitive", None)
    columns = tuple(drop.split(",")) if isinstance(drop, str) else tuple(drop or ())
    if is_user_dataset(dataset):
        return user_settings(parse_source(str(dataset), label, sensitive, columns), preset)
    given = [f"{o} (--{o})" for o, v in (("label", label), ("sensitive", sensitive), ("drop", columns)) if v]
    if given:
        raise DataError(f"{', '.join(given)}: column choices of a user's table (csv:PATH or parquet:PATH); the "
                        f"built-in dataset {dataset!r} has none")  # fmt: skip
    if dataset not in DATASETS:
        kinds = ", ".join(f"{k}:PATH" for k in USER_KINDS)
        raise DataError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}, or a file: {kinds}")
    return default_settings(dataset, preset)


def _model_spec(model: ModelLike) -> str:
    """``model`` (a spec string or a factory) as the spec ``TrainSpec.capacity`` holds (:mod:`.validators.models`)."""
    from interplay.validators.models import model_spec, register_factory

    return model_spec(model) if isinstance(model, str) else register_factory(model)  # type: ignore[arg-type]


def _first_task(s: Settings, data_path: str | None) -> Any:
    """Seed 0's task under ``s``: the data the checks before training look at, loaded once per call chain (and
    again when a user's file changed)."""
    from interplay.validators.user_data import file_version

    return _load_first_task(s, data_path, file_version(s.source.path) if s.source else None)


@functools.lru_cache(maxsize=4)
def _load_first_task(s: Settings, data_path: str | None, version: Any) -> Any:
    from interplay.validators.settings import load_task

    return load_task(s, 0, Path(data_path) if data_path else None)


@dataclass(frozen=True)
class _DataChoice:
    """The user's data and model options of one call, passed on to :func:`settings` for each cell."""

    label: str | None = None
    sensitive: str | None = None
    drop: Iterable[str] | str | None = None
    n_train: int | None = None
    model: ModelLike = None

    def as_kwargs(self) -> dict[str, Any]:
        return {"label": self.label, "sensitive": self.sensitive, "drop": self.drop, "n_train": self.n_train,
                "model": self.model}  # fmt: skip


def _count(value: Any, name: str, low: int, high: int, why: str) -> int:
    """``value`` as a whole number in ``low..high`` (``why`` says what the bounds protect), else a usage error."""
    try:
        n = operator.index(value)
    except TypeError:
        raise ArgumentValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}") from None
    if not low <= n <= high:
        raise ArgumentValueError(f"{name} must be at least {low} and at most {high} ({why}; got {n})")
    return n


def _seeds(seeds: int | None, preset: str) -> int:
    """The paired seeds: ``seeds``, else the preset's default. Each seed trains models, so 2..MAX_SEEDS (1000)."""
    from interplay.validators.settings import MAX_SEEDS, SEEDS

    n = seeds if seeds is not None else SEEDS.get(preset, 2)
    return _count(n, "seeds", 2, MAX_SEEDS, "a paired comparison needs 2; each seed trains models")


def _seed_plan(seeds: int | str | None, max_seeds: int | None, preset: str) -> Any:
    """A fixed number of seeds (:func:`_seeds`), or ``"auto"``: sequential seeds up to ``max_seeds`` (default 32;
    2..1000), an :class:`~.validators.sequential.Auto`."""
    from interplay.validators.sequential import DEFAULT_MAX_SEEDS, MAX_MAX_SEEDS, MIN_MAX_SEEDS, Auto

    if isinstance(seeds, str) and seeds.strip().lower() == "auto":
        n = DEFAULT_MAX_SEEDS if max_seeds is None else max_seeds
        why = "a paired comparison needs 2; each seed trains models"
        return Auto(_count(n, "max_seeds (--max-seeds)", MIN_MAX_SEEDS, MAX_MAX_SEEDS, why))
    if max_seeds is not None:
        raise ArgumentValueError(
            "max_seeds (--max-seeds) is the budget of seeds='auto' (--seeds auto); give both or neither"
        )
    if isinstance(seeds, str):
        raise ArgumentValueError(f"seeds must be a whole number from 2 to 1000 or 'auto', not {seeds!r}")
    return _seeds(seeds, preset)


def _workers(jobs: int | None, s: Settings | None = None) -> int:
    """Seed worker processes: ``jobs`` (1..256), else the CPUs available; one, with a warning, when the model of
    ``s`` is a factory that a worker process could not import (e.g. one defined in a notebook)."""
    import warnings

    from interplay.validators.experiment import available_cpus
    from interplay.validators.models import why_not_shippable

    n = available_cpus() if jobs is None else _count(jobs, "jobs", 1, 256, "one process per seed at most")
    why = why_not_shippable(s.train.capacity) if s is not None and n > 1 else None
    if why is not None:
        warnings.warn(
            f"measuring the seeds in this process, not in {n}: worker processes cannot import the model factory "
            f"({why}); define it in an importable module to measure seeds in parallel",
            UserWarning,
            stacklevel=3,
        )
        return 1
    return n


def _store(store: StoreLike):
    from interplay.validators.store import ResultStore

    return ResultStore(store)


@contextmanager
def _running(
    executor: ExecutorLike,
    address: str | None,
    jobs: int | None,
    s: Settings | None,
    local: Callable[[], int],
    seeds: int = 0,
) -> Iterator[Any]:
    """What the experiment functions take as ``workers``: ``local()`` processes for ``executor`` ``local``; for ``ray``
    a :class:`~.validators.ray_executor.RayExecutor` at ``address`` (else ``$RAY_ADDRESS``; none starts a local Ray)
    with ``jobs`` workers (default: the cluster's CPUs), connected at once and its workers for ``seeds`` seeds
    starting, closed afterwards; an executor instance as it is."""
    from interplay.validators.executors import EXECUTORS, Executor
    from interplay.validators.ray_executor import RayExecutor

    if isinstance(executor, Executor):
        yield executor
        return
    if executor == "local":
        if address:
            raise UsageError("address (--address) is the Ray cluster's: it goes with executor ray (--executor ray)")
        yield local()
        return
    if executor != "ray":
        raise UsageError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    n = None if jobs is None else _count(jobs, "jobs", 1, 100_000, "one Ray worker per CPU")
    if s is not None:
        _check_shippable(s.train.capacity)
    ray_executor = RayExecutor(address, n)
    with ray_executor:
        if seeds:
            ray_executor.prestart(seeds)
        yield ray_executor


def _check_shippable(spec: str) -> None:
    """A model factory that cannot reach a Ray worker is a usage error before anything runs."""
    from interplay.validators.models import ModelError, is_builtin, plugin_models, shipment_by_value

    if is_builtin(spec) or spec.split("@")[0] in plugin_models() or spec in shipment_by_value():
        return
    raise ModelError(f"model {spec} cannot be sent to Ray workers: its factory does not pickle (docs/cluster.md)")


def _one_process(jobs: int | None) -> int:
    if jobs is not None:
        raise UsageError("jobs (--jobs) applies to a single cell locally; --all shares models across cells in one "
                         "process (with executor ray, jobs is the number of Ray workers)")  # fmt: skip
    return 1


def _local_jobs(jobs: int | None) -> Callable[[], int]:
    """Local processes for the commands that run in one process unless told (sweep, reproduce): ``jobs``, else 1."""
    return lambda: 1 if jobs is None else _count(jobs, "jobs", 1, 256, "one process per seed at most")


def _cell_run(
    k: KB,
    d: str,
    r: str,
    setting: str,
    dataset: str,
    preset: str,
    params: Params,
    ctx: dict,
    data_path: str | Path | None,
    choice: _DataChoice | None = None,
) -> tuple[Settings, Any, str | None, dict]:
    """The settings, the literature run (None for the generic setting), the data path and the ``setting`` record
    of cell ``d -> r`` under ``setting`` (auto: literature where the KB declares the cell's setting). A user's data
    is kept under a literature setting (its declared data kind does not replace it)."""
    from interplay.validators.literature import SETTINGS, LiteratureRun, compile_setting
    from interplay.validators.user_data import is_user_dataset

    if setting not in SETTINGS:
        raise UsageError(f"unknown setting {setting!r}; choose from {', '.join(SETTINGS)}")
    obs = k.observation(d, r)
    declared = obs.setting.model_dump(exclude_none=True) if obs is not None and obs.setting is not None else None
    facts = {name: fact for name, fact in declared.items() if fact} if declared is not None else None
    path = str(data_path) if data_path else None
    kw = (choice or _DataChoice()).as_kwargs()
    if setting == "generic" or (setting == "auto" and facts is None):
        return settings(dataset, preset, params, ctx, data_path, k, **kw), None, path, {"name": "generic"}
    run: LiteratureRun = compile_setting(facts or {}, d, r)
    cell_dataset = dataset if is_user_dataset(dataset) else run.dataset or dataset
    path = path if cell_dataset == dataset else None  # the folder given is the data the user named
    s = settings(cell_dataset, preset, params, ctx, path, k, **kw)
    s = s.with_overrides(run.overrides).with_overrides(s.overrides)  # declared facts, then the user's choices
    return s, run, path, {"name": "literature", "facts": run.facts, "dataset": s.data_name}


def _check_data_path(dataset: Any, data_path: str | Path | None) -> None:
    """A :class:`DataError` when ``data_path`` is given for a dataset that reads no files."""
    from interplay.validators.data import FILE_DATASETS, DataError

    if data_path is not None and dataset not in FILE_DATASETS:
        raise DataError(
            f"data_path (--data-path) is the folder of the Adult or Fashion-MNIST files; dataset {dataset!r} has none"
        )


def _cell_config(k: KB, d: str, r: str, s: Settings, run: Any, path: str | None, record: dict) -> Any:
    """The validation configuration of cell ``d -> r`` under what :func:`_cell_run` returned."""
    from interplay.validators.experiment import ValidationConfig

    metric, regime = (run.metric, run.regime) if run is not None else (None, None)
    return ValidationConfig(d, r, s, tuple(k.defenses[d].targets), path, metric, regime, record["name"])
