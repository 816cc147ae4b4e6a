"""The Python API: the one layer the command line and notebooks share.

Plain functions over explicit inputs, returning typed results (:mod:`interplay.results`) whose ``to_dict()``
is the command line's ``--json`` document. Names resolve through the KB everywhere (slugs, SoK codes,
aliases). The API joins a prediction and a measurement into a verdict (:mod:`interplay.verdicts`): the
validators measure and never see the reasoner. Wrong inputs raise :class:`~interplay.errors.UsageError`
subclasses; a malformed KB raises :class:`~interplay.kb.KBError`. Importing this module, loading the KB and
predicting never import torch; the experiment functions import the validators when called.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import interplay.extensions as extensions
from interplay.arguments import checked
from interplay.errors import ArgumentValueError, UsageError
from interplay.interactions import predict as _predict
from interplay.interactions import predict_all
from interplay.interactions.claims import claimed_edges
from interplay.interactions.combos import ComboPrediction, predict_all_combos, predict_combo
from interplay.interactions.evaluate import (
    BASELINES,
    COMBO_METHODS,
    leave_one_paper_out,
    leave_one_paper_out_combos,
    read_records,
    score_records,
)
from interplay.interactions.prediction import Prediction
from interplay.interactions.status import cell_status, summary
from interplay.interactions.validated import Validations, load_validations
from interplay.kb import KB, UnknownName
from interplay.kb import load_kb as _load_kb
from interplay.results import (
    ComboValidation,
    Evaluation,
    FactorMeasurement,
    Reproduction,
    Status,
    Sweep,
    Validation,
    ValidationMatrix,
    plain,
)
from interplay.verdicts import adjust_for_multiplicity, benjamini_hochberg, combo_judge, validation_judge

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from interplay.export import ExportResult
    from interplay.validators.settings import Settings

KBLike = KB | str | Path | None
StoreLike = str | Path | None
Params = Mapping[str, Any] | Iterable[str] | None
# A model: a spec string (a capacity preset, mlp:W1,W2,..., cnn[:C1,C2], a plugin's model) or a factory
# ``factory(input_shape, n_classes) -> torch.nn.Module``.
ModelLike = str | Callable[..., Any] | None
# Where the seeds run: "local" (processes on this machine), "ray" (a Ray cluster; the ray extra), or an
# interplay.validators.executors.Executor kept across calls (e.g. one RayExecutor for a notebook session).
ExecutorLike = str | Any
REPRODUCTIONS = ("sok-5.1", "sok-5.2")


class Progress(Protocol):
    """Where long runs report progress (the command line's progress bar; any object with these methods)."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1, description: str | None = None) -> None: ...


class _Silent:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1, description: str | None = None) -> None:
        pass


def _progress(progress: Progress | None) -> Progress:
    """``progress``, else a bar in the running notebook cell (:mod:`interplay.progress`), else nothing."""
    from interplay.progress import default

    return progress or default() or _Silent()


# --- the knowledge base and the reasoner --------------------------------------------------------------------


@checked
def load_kb(kb_dir: str | Path | None = None, overlays: Iterable[str | Path] = (), *, plugins: bool = True) -> KB:
    """The KB at ``kb_dir`` (default: the built-in one) plus ``overlays`` and, with ``plugins``, the overlays of
    installed third-party plugins."""
    extra = extensions.kb_overlays() if plugins else []
    return _load_kb(kb_dir, [*overlays, *extra])


@functools.cache
def _default_kb() -> KB:
    return load_kb()


def _kb(kb: KBLike) -> KB:
    if isinstance(kb, KB):
        return kb
    return _default_kb() if kb is None else load_kb(kb)


def read_validations(store: StoreLike = None) -> Validations:
    """The validated-here layer (verdicts and sweep marks) from ``store`` (default: the default store, read
    when it exists); a ``store`` path that does not exist or cannot be read is a usage error. The store is
    opened read-only: reading never creates a file or a folder, nor changes a database."""
    from interplay.validators.store import StoreError

    if store is not None and str(store).strip() and not Path(store).exists():
        raise StoreError(f"no results store at {store}")
    try:
        return load_validations(store)
    except UsageError:  # StoreError: empty path, a folder, not an interplay store, a damaged row
        raise
    except Exception as exc:  # anything else the reader trips on: still the store's fault, not a traceback
        raise UsageError(f"cannot read the results store {store}: {exc}") from None


@checked
def predict(
    defense: str,
    risk: str,
    *,
    method: str = "graph",
    context: Mapping[str, str] | None = None,
    kb: KBLike = None,
    store: StoreLike | bool = False,
    evidence: str = "all",
) -> Prediction:
    """Predict how deploying ``defense`` changes susceptibility to ``risk``.

    ``store``: read validations back (a path, or ``None`` for the default store); ``False`` (the default):
    the curated KB alone. ``evidence``: with a store, whether its measured evidence on defense -> factor edges
    is read beside the literature (``all``), instead of it (``measured``) or not (``literature``).
    """
    k = _kb(kb)
    validations = None if store is False else read_validations(store)  # type: ignore[arg-type]
    _check_method(method)
    _check_evidence(evidence)
    return _predict(k, defense, risk, method, dict(context or {}), validations=validations, evidence=evidence)


@checked
def explain(
    defense: str,
    risk: str,
    *,
    method: str = "graph",
    context: Mapping[str, str] | None = None,
    kb: KBLike = None,
    store: StoreLike | bool = False,
    evidence: str = "all",
) -> Prediction:
    """The prediction with its paths (``supporting``, ``opposing``, ``neutral``), each edge's evidence, and the
    cell's experiment when ``store`` is read; what ``interplay explain`` draws as a tree."""
    return predict(defense, risk, method=method, context=context, kb=kb, store=store, evidence=evidence)


def _check_evidence(evidence: str) -> None:
    from interplay.interactions.graph import EVIDENCE

    if evidence not in EVIDENCE:
        raise ArgumentValueError(f"unknown evidence {evidence!r}; choose one of {', '.join(EVIDENCE)}")


def _check_method(method: str) -> None:
    from interplay.interactions.reasoner import METHODS

    if method not in METHODS:
        raise ArgumentValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def agreement(p: Prediction) -> str | None:
    """``agree``/``disagree`` with the literature's reported direction, or None where it reports none."""
    if not p.known or p.known["direction"] == "unexplored":
        return None
    return "agree" if p.direction == p.known["direction"] else "disagree"


@checked
def matrix(
    *,
    method: str = "graph",
    context: Mapping[str, str] | None = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
) -> list[Prediction]:
    """Every defense x risk prediction, defenses and risks in KB order; ``defenses``: ``sok`` (the SoK's seven,
    the default), ``all``, or names (see :func:`select_defenses`)."""
    _check_method(method)
    k = _kb(kb)
    return predict_all(k, method, dict(context or {}), defenses=_select(k, defenses, "defense"))


def matrix_document(predictions: list[Prediction]) -> list[dict]:
    """``interplay matrix --json``: one record per cell."""
    return [
        {
            "defense": p.defense,
            "risk": p.risk,
            "prediction": p.direction,
            "resolution": p.resolution,
            "confidence": round(p.confidence, 3),
            "probability": None if p.probability is None else round(p.probability, 3),
            "abstain": p.abstain,
            "depends_on": p.depends_on,
            "known": p.known,
            "agreement": agreement(p),
        }
        for p in predictions
    ]


@checked
def conflicts(*, method: str = "graph", context: Mapping[str, str] | None = None, kb: KBLike = None) -> list[dict]:
    """Cells whose paths disagree, most balanced first (``interplay conflicts --json``)."""
    rows = []
    for p in matrix(method=method, context=context, kb=kb):
        up = sum(x.weight for x in p.paths if x.sign == "+")
        down = sum(x.weight for x in p.paths if x.sign == "-")
        if up and down:
            rows.append(
                {
                    "defense": p.defense,
                    "risk": p.risk,
                    "prediction": p.direction,
                    "resolution": p.resolution,
                    "increase_weight": round(up, 3),
                    "decrease_weight": round(down, 3),
                    "balance": round(min(up, down) / max(up, down), 3),
                }
            )
    return sorted(rows, key=lambda r: -r["balance"])


def combo_agreement(p: ComboPrediction) -> str | None:
    """Pair-level agreement with the literature: a reported conflict on either side vs the predicted verdict."""
    if p.known is None:
        return None
    if p.known["conflict"]:
        return "agree" if p.verdict == "conflict" else "disagree"
    if all(v == "effective" for v in p.known["outcome"].values()):
        return "agree" if p.verdict == "compatible" else "disagree"
    return None


@checked
def predict_pair(a: str, b: str, *, context: Mapping[str, str] | None = None, kb: KBLike = None) -> ComboPrediction:
    """Whether defenses ``a`` and ``b`` each stay effective when deployed in one model."""
    k = _kb(kb)
    return predict_combo(k, k.resolve(a, "defense"), k.resolve(b, "defense"), dict(context or {}))


def combo_matrix(
    *, context: Mapping[str, str] | None = None, kb: KBLike = None, defenses: Iterable[str] | str | None = "sok"
) -> list[ComboPrediction]:
    """Every unordered pair of defenses."""
    k = _kb(kb)
    return predict_all_combos(k, dict(context or {}), _select(k, defenses, "defense"))


@checked
def evaluate_loo(
    *,
    method: str = "graph",
    combos: bool = False,
    kb: KBLike = None,
    store: StoreLike | bool = False,
    evidence: str = "all",
) -> Evaluation:
    """Leave-one-paper-out (``interplay eval loo --json``): the method's score with the baselines beside it. With
    ``store``, its measured evidence on defense -> factor edges is read as ``evidence`` says (it never carries a
    cell's own outcome) and ``literature_only`` gives the score without it."""
    k = _kb(kb)
    if combos:
        docs = [leave_one_paper_out_combos(k, m).to_dict() for m in COMBO_METHODS]
        return Evaluation({**docs[0], "baselines": docs[1:]})
    _check_method(method)
    _check_evidence(evidence)
    layer = None if store is False else read_validations(store)  # type: ignore[arg-type]
    main = leave_one_paper_out(k, method, layer, evidence).to_dict()
    doc = {**main, "evidence": evidence if layer is not None else "literature"}
    if layer is not None:
        doc["literature_only"] = leave_one_paper_out(k, method).to_dict()
    return Evaluation({**doc, "baselines": [leave_one_paper_out(k, b).to_dict() for b in BASELINES if b != method]})


@checked
def evaluate_file(path: str | Path, *, method: str = "graph", kb: KBLike = None) -> dict:
    """Score predictions against a YAML/CSV file of records with fields defense, risk, direction. A file with no
    records, without those columns, or with no record that names a known cell and direction is a usage error."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    _check_method(method)
    try:
        records = read_records(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # yaml.YAMLError and csv.Error have no common base worth importing here
        raise UsageError(f"{path}: cannot parse: {exc}") from None
    expected = "defense, risk, direction"
    if not records:
        raise UsageError(f"{path}: no records; expected records with the columns {expected} (CSV: a header row)")
    seen = {str(key) for rec in records if isinstance(rec, dict) for key in rec if key is not None}
    missing = [c for c in expected.split(", ") if c not in seen]
    if missing:
        found = ", ".join(sorted(seen)[:10]) or "none"
        raise UsageError(f"{path}: no column {', '.join(missing)}; expected the columns {expected} (found: {found})")
    doc = score_records(_kb(kb), records, method).to_dict()
    if not doc["n"]:
        reasons = "; ".join(f"record {u['record']}: {u['reason']}" for u in doc["unresolved"][:3])
        raise UsageError(f"{path}: none of the {len(records)} record(s) could be scored ({reasons})")
    return doc


# --- experiments ---------------------------------------------------------------------------------------------


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
    a :class:`~.validators.executors.RayExecutor` at ``address`` (else ``$RAY_ADDRESS``; none starts a local Ray)
    with ``jobs`` workers (default: the cluster's CPUs), connected at once and its workers for ``seeds`` seeds
    starting, closed afterwards; an executor instance as it is."""
    from interplay.validators.executors import EXECUTORS, Executor, RayExecutor

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


@checked
def select_defenses(names: Iterable[str] | str | None = "sok", *, kb: KBLike = None) -> list[str]:
    """Defense slugs in KB order: ``sok`` (the SoK's seven), ``all`` (or None), or names (slugs, SoK codes,
    aliases; a comma-separated string or a list)."""
    return _select(_kb(kb), names, "defense")


def _select(k: KB, names: Iterable[str] | str | None, kind: str) -> list[str]:
    every = list(k.defenses if kind == "defense" else k.risks)
    if names is None or names == "all":
        return every
    if kind == "defense" and names == "sok":
        return k.sok_defenses
    given = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    wanted = {k.resolve(n.strip(), kind) for n in given if n.strip()}
    if not wanted:
        raise UsageError(
            f"{kind}s {','.join(given)!r} selects no {kind}; name at least one (slug, SoK code or alias), or "
            + ("sok (the SoK's seven) or all" if kind == "defense" else f"leave the selection out for every {kind}")
        )
    return [slug for slug in every if slug in wanted]


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


# --- status, exports and the report ------------------------------------------------------------------------


@checked
def status(
    *, store: StoreLike = None, method: str = "graph", kb: KBLike = None, defenses: Iterable[str] | str | None = "sok"
) -> Status:
    """Every cell of ``defenses`` (default the SoK's seven, see :func:`select_defenses`): literature, prediction per
    method, experiment verdict, and whether they agree."""
    k = _kb(kb)
    records = plain(cell_status(k, read_validations(store), method, _select(k, defenses, "defense")))
    return Status(records, summary(records))


@checked
def export(
    fmt: str,
    output: str | Path,
    *,
    method: str = "graph",
    subset: Iterable[str] | str | None = None,
    include: Iterable[str] | str = "observations,predictions",
    standalone: bool = False,
    renderer: str = "auto",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
    cell: tuple[str, str] | str | None = None,
    factor: str | None = None,
) -> ExportResult:
    """Write the KB, the matrix and the evidence as ``fmt`` (latex, bib, dot, svg, pdf, tikz, graphml, gexf, json,
    mermaid, csv); ``include`` may add ``validations`` read from ``store``. ``defenses`` (default the SoK's seven,
    see :func:`select_defenses`) are the matrix's rows and, with every risk, the graph's subset; ``subset``
    replaces both. ``fmt`` heatmap, forest or sweep: that figure of :func:`figure` (``cell``, ``factor``) as
    .png, .pdf or .svg."""
    from interplay.export import FORMATS, ExportError, ExportResult
    from interplay.export import export as write
    from interplay.export.result_figures import FIGURES, check_figure_output
    from interplay.export.result_figures import write as write_figure

    k = _kb(kb)
    kind = str(fmt).lower()
    if kind not in (*FORMATS, *FIGURES):
        figures = ", ".join(FIGURES)
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}, or a figure: {figures}")
    if (cell is not None or factor is not None) and kind not in FIGURES:
        raise UsageError("cell (--cell) and factor (--factor) choose what a forest or sweep figure shows")
    if kind in FIGURES:
        check_figure_output(Path(output))
        drawn = figure(kind, cell=cell, factor=factor, method=method, store=store, kb=k, defenses=defenses)
        return ExportResult(kind, [write_figure(drawn, Path(output))], renderer="matplotlib")
    layers = {i.strip().lower() for i in (include.split(",") if isinstance(include, str) else include)}
    if isinstance(subset, str):
        subset = subset.split(",")
    return write(
        k,
        fmt,
        output,
        method=method,
        subset=subset or _defense_subset(k, defenses),
        include=include,
        standalone=standalone,
        renderer=renderer,
        validations=read_validations(store) if "validations" in layers else None,
    )


@checked
def figure(
    kind: str,
    *,
    cell: tuple[str, str] | str | None = None,
    factor: str | None = None,
    method: str = "graph",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
) -> Figure:
    """A matplotlib figure of the results in ``store`` (docs/figures.md): ``heatmap`` (the matrix of ``defenses``:
    literature, prediction, observed effect with its verdict), ``forest`` (``cell``'s per-seed differences, CI and
    smallest effect of interest), ``sweep`` (``cell``'s sweep over ``factor``) or ``risk-coverage`` (the reasoner's
    methods under leave-one-paper-out, as ``eval loo`` scores them; no store needed). ``cell``: (defense, risk) or
    ``"DEFENSE,RISK"``; names resolve through the KB."""
    from interplay.export import ExportError, result_figures

    if kind not in result_figures.FIGURES:
        raise ExportError(f"unknown figure {kind!r}; choose one of {', '.join(result_figures.FIGURES)}")
    _check_method(method)
    k = _kb(kb)
    if kind in result_figures.WHOLE_MATRIX and (cell is not None or factor is not None):
        raise UsageError(f"the {kind} figure shows every cell: --cell and --factor go with forest, sweep")
    if kind == "risk-coverage":
        return result_figures.risk_coverage(k)
    layer = read_validations(store)
    if kind == "heatmap":
        return result_figures.heatmap(k, layer, method, _defense_subset(k, defenses))
    if cell is None:
        raise UsageError(f"a {kind} figure is of one cell: give cell (--cell DEFENSE,RISK)")
    parts = cell.split(",") if isinstance(cell, str) else list(cell)
    if len(parts) != 2:
        raise UsageError(f"cell must name a defense and a risk (DEFENSE,RISK), not {cell!r}")
    d, r = k.resolve(parts[0].strip(), "defense"), k.resolve(parts[1].strip(), "risk")
    if kind == "forest":
        if factor is not None:
            raise UsageError("factor (--factor) goes with the sweep figure")
        return result_figures.forest(layer, d, r, store)
    return result_figures.sweep(layer, d, r, factor, store)


@checked
def report(
    output: str | Path,
    *,
    method: str = "graph",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
) -> Path:
    """One self-contained HTML page: the matrix of ``defenses`` (default the SoK's seven, see
    :func:`select_defenses`) as a heat map, every cell's explanation and experiment."""
    from interplay.export.report import write_report

    _check_method(method)
    k = _kb(kb)
    layer = read_validations(store)
    return write_report(k, output, method, layer, _defense_subset(k, defenses), _stored_sweeps(layer))


def _stored_sweeps(layer: Validations) -> list[dict]:
    """The sweep documents of the store ``layer`` was read from, newest first (none without a store file)."""
    from interplay.validators.store import ResultStore

    if not layer.source or not Path(layer.source).is_file():
        return []
    return [d for d in ResultStore(layer.source, readonly=True).sweeps() if d.get("kind") != "measure"]


def _defense_subset(k: KB, defenses: Iterable[str] | str | None) -> list[str] | None:
    """The export subset of ``defenses`` with every risk, or None (no subset) when they are all the KB's."""
    chosen = _select(k, defenses, "defense")
    return None if chosen == list(k.defenses) else [*chosen, *k.risks]
