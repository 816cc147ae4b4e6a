"""Evidence validated here: experiment results read back from a results store, in their own layer.

The layer is never written into the curated YAML and never traversed as a mechanism edge. It holds

* **cell records** (:class:`ValidationRecord`), one per (defense, risk): the kind is ``"validated here"``,
  the locator the configuration hash, with the dataset, the seeds, the observed direction, the verdict, the
  effect (defended minus baseline, its 95% CI), the setting it ran under (``generic`` or ``literature``) and
  its regime. When the store holds several configurations of a cell under one setting, the one with the most
  seeds wins, then the newest; ``configurations`` says how many there were. ``by_setting`` keeps each
  setting's record; a cell's record is its generic one where there is one (the literature one otherwise).
* **measured evidence** (:class:`SweepMark` records of kind ``measure``) on defense -> factor edges: a factor
  probe's verdict (``interplay measure``) on the edge's sign. It may support only an edge that starts at a
  defense, so a cell's own outcome never enters its prediction: the graph (:func:`~.graph.build_graph`) adds a
  confirmed measurement as one more empirical item (it can keep an edge whose literature evidence is excluded)
  and scales a contradicted edge's weight by ``CONTRADICTED_FACTOR``. ``evidence`` chooses what the reasoner
  reads: ``literature``, ``measured`` (measurements alone on defense edges) or ``all`` (both, the default).
* **sweep marks** (:class:`SweepMark`) on KB mechanism edges: a factor sweep that ``confirms`` or
  ``contradicts`` an edge. An edge's mark is the majority of its sweeps' verdicts (a tie, or only
  ``inconclusive`` sweeps: no mark). The graph-based methods (``graph``, ``shortest-path``) read the marks:
  a confirmed edge's weight is multiplied by ``CONFIRMED_FACTOR`` = 1.25 (capped at 1), a contradicted
  edge's by ``CONTRADICTED_FACTOR`` = 0.5, so a path's weight (the product of its edges') gains or loses and
  with it the confidence and the weighted vote. The ``guideline`` method reads the SoK's arrows as printed.

The sweep record format (``ResultStore.save_sweep(config_hash, edge_ids, summary)``)::

    {"defense": "adversarial-training", "risk": "membership-inference",   # the swept cell (slugs)
     "factor": "M1", "values": [16, 64, 256],                             # the factor and its values
     "dataset": "synthetic", "seeds": 5,                                  # optional
     "edges": {"<KB edge id>": {"verdict": "confirms" | "contradicts" | "inconclusive",
                                "effect": {...}}}}                        # free-form, e.g. slope, ci95, p_value

Validation summaries are those the validators write (``ResultStore.validations()``; the ``validate --json``
document). Importing this module never imports torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

KIND = "validated here"
CONFIRMED_FACTOR = 1.25
CONTRADICTED_FACTOR = 0.5
EDGE_MARKS = {"confirms": "confirmed", "contradicts": "contradicted"}


@dataclass(frozen=True)
class ValidationRecord:
    """The experiment behind one cell; ``seed_scores``: (seed, baseline, defended) risk scores per seed."""

    defense: str
    risk: str
    prediction: str
    observed: str
    verdict: str
    effect: dict
    defense_effective: bool | None
    seeds: int
    dataset: str
    config_hash: str
    code_version: str = ""
    updated: float = 0.0
    configurations: int = 1
    seed_scores: tuple[tuple[int, float, float], ...] = ()
    setting: str = "generic"
    regime: str | None = None

    kind = KIND

    @property
    def locator(self) -> str:
        return self.config_hash

    def to_dict(self) -> dict:
        return {
            "kind": KIND, "locator": self.config_hash, "prediction": self.prediction, "observed": self.observed,
            "verdict": self.verdict, "effect": self.effect, "defense_effective": self.defense_effective,
            "seeds": self.seeds, "dataset": self.dataset, "code_version": self.code_version,
            "configurations": self.configurations, "setting": self.setting, "regime": self.regime,
        }  # fmt: skip


@dataclass(frozen=True)
class SweepMark:
    """One sweep's verdict on one edge."""

    edge: str
    verdict: str  # confirms | contradicts | inconclusive
    defense: str
    risk: str
    factor: str
    values: tuple
    effect: dict
    config_hash: str

    def to_dict(self) -> dict:
        return {"edge": self.edge, "verdict": self.verdict, "defense": self.defense, "risk": self.risk,
                "factor": self.factor, "values": list(self.values), "effect": self.effect,
                "kind": KIND, "locator": self.config_hash}  # fmt: skip


@dataclass
class Validations:
    """The layer: cell records by (defense, risk), sweep marks by edge id, and where they came from."""

    cells: dict[tuple[str, str], ValidationRecord] = field(default_factory=dict)
    sweeps: dict[str, list[SweepMark]] = field(default_factory=dict)
    source: str = ""
    by_setting: dict[tuple[str, str], dict[str, ValidationRecord]] = field(default_factory=dict)
    measurements: dict[str, list[SweepMark]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.cells or self.sweeps or self.measurements)

    def cell(self, defense: str, risk: str) -> ValidationRecord | None:
        return self.cells.get((defense, risk))

    def verdicts(self) -> dict[tuple[str, str], str]:
        return {key: rec.verdict for key, rec in self.cells.items()}

    def settings_of(self, defense: str, risk: str) -> dict[str, ValidationRecord]:
        """The cell's record under each setting it was validated under (``generic``, ``literature``)."""
        return self.by_setting.get((defense, risk), {})

    @property
    def edge_marks(self) -> dict[str, str]:
        """Edge id -> ``confirmed`` | ``contradicted``: the majority of the edge's decisive sweeps."""
        return _majority_marks(self.sweeps)

    @property
    def measured_marks(self) -> dict[str, str]:
        """Defense -> factor edge id -> ``confirmed`` | ``contradicted``: the majority of its decisive measurements."""
        return _majority_marks(self.measurements)


def _majority_marks(records: dict[str, list[SweepMark]]) -> dict[str, str]:
    marks = {}
    for edge, items in records.items():
        votes = Counter(s.verdict for s in items if s.verdict in EDGE_MARKS)
        if votes["confirms"] != votes["contradicts"]:
            marks[edge] = EDGE_MARKS[max(("confirms", "contradicts"), key=votes.__getitem__)]
    return marks


def marked_weight(weight: float, mark: str | None) -> float:
    """An edge's weight under its sweep mark (see the module docstring)."""
    if mark == "confirmed":
        return min(1.0, weight * CONFIRMED_FACTOR)
    if mark == "contradicted":
        return weight * CONTRADICTED_FACTOR
    return weight


def _seed_scores(runs: dict[int, dict], risk: str) -> tuple[tuple[int, float, float], ...]:
    try:
        return tuple(
            (seed, float(r["baseline"]["risks"][risk]["score"]), float(r["defended"]["risks"][risk]["score"]))
            for seed, r in sorted(runs.items())
        )
    except (KeyError, TypeError, ValueError):
        return ()


def _record(doc: dict, configurations: int, runs: dict[int, dict]) -> ValidationRecord:
    return ValidationRecord(
        doc["defense"], doc["risk"], doc.get("prediction", ""), doc["observed"], doc["verdict"], doc.get("effect", {}),
        doc.get("defense_effective"), int(doc.get("seeds", 0)), doc.get("dataset", ""), doc.get("config_hash", ""),
        doc.get("code_version", ""), float(doc.get("updated", 0.0)), configurations,
        _seed_scores(runs, doc["risk"]), (doc.get("setting") or {}).get("name", "generic"),
        (doc.get("regime") or {}).get("regime"),
    )  # fmt: skip


def from_documents(validations: list[dict], sweeps: Sequence[dict] = (), runs=None, source: str = "") -> Validations:
    """Build the layer from store documents; ``runs(config_hash)`` returns a configuration's per-seed records."""
    by_cell: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for doc in validations:
        setting = (doc.get("setting") or {}).get("name", "generic")
        by_cell.setdefault((doc["defense"], doc["risk"]), {}).setdefault(setting, []).append(doc)
    by_setting: dict[tuple[str, str], dict[str, ValidationRecord]] = {}
    for key, settings in by_cell.items():
        for setting, docs in sorted(settings.items()):
            best = max(docs, key=lambda d: (int(d.get("seeds", 0)), float(d.get("updated", 0.0))))
            record = _record(best, len(docs), runs(best.get("config_hash", "")) if runs else {})
            by_setting.setdefault(key, {})[setting] = record
    cells = {key: s.get("generic") or next(iter(s.values())) for key, s in by_setting.items()}
    marks: dict[str, list[SweepMark]] = {}
    measured: dict[str, list[SweepMark]] = {}
    for doc in sweeps:
        target = measured if doc.get("kind") == "measure" else marks
        for edge in doc.get("edge_ids", doc.get("edges", {})):
            item = doc.get("edges", {}).get(edge, {})
            target.setdefault(edge, []).append(SweepMark(
                edge, item.get("verdict", "inconclusive"), doc.get("defense", ""), doc.get("risk", ""),
                str(item.get("factor", doc.get("factor", ""))), tuple(doc.get("values", ())), item.get("effect", {}),
                doc.get("config_hash", ""),
            ))  # fmt: skip
    return Validations(cells, marks, source, by_setting, measured)


def load_validations(path: str | Path | None = None) -> Validations:
    """Read the layer from the results store at ``path`` (default: the validators' default store).

    A store that does not exist yet is an empty layer; it is not created. The store is opened read-only: a
    file that is not an interplay store, or a damaged one, raises :class:`~interplay.validators.store.StoreError`.
    """
    from interplay.validators.store import ResultStore, default_store_path

    where = default_store_path() if path is None else path
    if str(where).strip() and not Path(where).exists():
        return Validations(source=str(where))
    store = ResultStore(where, readonly=True)
    return from_documents(store.validations(), store.sweeps(), store.runs, str(store.path))
