"""Typed results of the API: enums for directions and verdicts, and result objects over the ``--json`` documents.

Every result keeps the document it was built from: ``to_dict()`` is exactly what the command line prints
with ``--json``. ``repr`` is one line, ``str`` a few readable lines, ``_repr_html_`` a table for notebooks,
``to_frame()`` a tidy pandas DataFrame (:mod:`interplay.frames`, columns in docs/api.md). Torch-free.
"""

from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interplay import frames

if TYPE_CHECKING:
    import pandas as pd


class _Word(str, Enum):
    """A string enum that prints, formats, hashes and compares as its value."""

    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]  # str's format_spec is positional-only, Enum's not
    __hash__ = str.__hash__


class Direction(_Word):
    """A predicted, reported or observed direction of an interaction."""

    increase = "increase"
    decrease = "decrease"
    none = "none"
    mixed = "mixed"
    ambiguous = "ambiguous"
    unknown = "unknown"


class Verdict(_Word):
    """A prediction judged against an experiment. ``not-applicable``: the defended model is the baseline and the
    probe reads nothing the defense adds, so no experiment can test the cell; ``not registered``/``unsupported``:
    no experiment could run; ``failed``: a seed of the cell raised on a cluster (its ``reason`` names the seed, the
    configuration and the error; docs/cluster.md)."""

    confirmed = "confirmed"
    refuted = "refuted"
    inconclusive = "inconclusive"
    not_applicable = "not-applicable"
    not_registered = "not registered"
    unsupported = "unsupported"
    failed = "failed"


def _opt(enum: type[_Word], value: Any) -> Any:
    try:
        return enum(value) if value is not None else None
    except ValueError:  # a word this version does not know (e.g. from a newer store): kept as it is
        return value


@dataclass(frozen=True)
class Effect:
    """A paired effect over seeds: defended minus baseline, its 95% CI and paired t-test p-value."""

    metric: str
    baseline: float
    defended: float
    difference: float
    ci95: tuple[float, float]
    p_value: float
    min_effect: float | None = None

    @classmethod
    def from_dict(cls, e: dict | None) -> Effect | None:
        if not e:
            return None
        return cls(
            e.get("metric", "score"),
            e["baseline"],
            e["defended"],
            e["difference"],
            tuple(e["ci95"]),
            e["p_value"],
            e.get("min_effect"),
        )

    def __str__(self) -> str:
        lo, hi = self.ci95
        return (
            f"{self.metric} {self.baseline:.3f} -> {self.defended:.3f}, difference {self.difference:+.3f} "
            f"[95% CI {lo:+.3f}, {hi:+.3f}], p {self.p_value:.2g}"
        )


def plain(doc: Any) -> Any:
    """``doc`` as the JSON document prints it (tuples become lists, other objects strings)."""
    return json.loads(json.dumps(doc, default=str))


def _table(rows: list[tuple[str, Any]], title: str) -> str:
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table><caption>{html.escape(title)}</caption>{body}</table>"


@dataclass(frozen=True, repr=False)
class Result:
    """A result over its JSON document."""

    doc: dict = field(compare=False)

    def to_dict(self) -> dict:
        """The document, exactly as ``--json`` prints it."""
        return copy.deepcopy(self.doc)

    def rows(self) -> list[tuple[str, Any]]:
        return []

    def title(self) -> str:
        return type(self).__name__

    def _repr_html_(self) -> str:
        return _table(self.rows(), self.title())


@dataclass(frozen=True, repr=False)
class Validation(Result):
    """One defense -> risk validation (``interplay validate D R --json``)."""

    defense: str = ""
    risk: str = ""
    prediction: Direction | str | None = None
    observed: Direction | str | None = None
    verdict: Verdict | str | None = None
    effect: Effect | None = None
    defense_effective: bool | None = None
    seeds: int = 0
    dataset: str = ""
    literature: str | None = None

    @classmethod
    def from_dict(cls, doc: dict) -> Validation:
        doc = plain(doc)
        return cls(
            doc,
            doc["defense"],
            doc["risk"],
            _opt(Direction, doc.get("prediction")),
            _opt(Direction, doc.get("observed")),
            _opt(Verdict, doc.get("verdict")),
            Effect.from_dict(doc.get("effect")),
            doc.get("defense_effective"),
            doc.get("seeds", 0),
            doc.get("dataset", ""),
            doc.get("literature"),
        )

    def title(self) -> str:
        return f"{self.defense} -> {self.risk}"

    def to_frame(self) -> pd.DataFrame:
        """One row: the cell (columns :data:`interplay.frames.CELL_COLUMNS`)."""
        return frames.cells([self.doc])

    def seeds_frame(self, store: str | Path | None = None) -> pd.DataFrame:
        """One row per seed: the paired scores the effect was computed on, read from the results ``store`` (default:
        the default store) that holds the run."""
        from interplay.validators.store import ResultStore

        return frames.seeds(self.doc, ResultStore(store, readonly=True).runs(self.doc.get("config_hash", "")))

    def __repr__(self) -> str:
        return f"Validation({self.defense} -> {self.risk}: {self.verdict})"

    def rows(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = [
            ("prediction", self.prediction),
            ("observed", self.observed),
            ("verdict", self.verdict),
        ]
        if self.effect:
            rows.append(("effect", str(self.effect)))
        rows += [("defense effective", self.defense_effective), ("seeds", self.seeds), ("dataset", self.dataset)]
        rows += [("calibrated", line) for line in self.calibrations()]
        if self.literature is not None:
            rows.append(("literature", self.literature))
        return rows

    def calibrations(self) -> list[str]:
        """One line per knob calibrated to the baseline's headroom on pilot seeds."""
        return [
            f"{slug}.{c['param']} = {c['value']} (baseline {c['baseline_score']:.3f} on pilot seeds, band "
            f"{c['band'][0]}-{c['band'][1]}{'' if c['in_band'] else ', not reached inside'})"
            for slug, c in (self.doc.get("calibration") or {}).items()
        ]

    def __str__(self) -> str:
        if self.effect is None:
            return f"{self.title()}: {self.verdict} ({self.doc.get('reason', 'no experiment')})"
        u = self.doc.get("utility", {})
        lines = [
            f"{self.title()} on {self.dataset}, {self.seeds} paired seeds",
            f"  prediction {self.prediction}, observed {self.observed}: {self.verdict}",
            f"  {self.effect}",
            f"  defense effective: {self.defense_effective}"
            + (f"; accuracy {u['baseline']:.3f} -> {u['defended']:.3f}" if u else ""),
            *(f"  calibrated {line}" for line in self.calibrations()),
        ]
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class ValidationMatrix(Result):
    """Every selected cell validated (``interplay validate --all --json``); ``to_dict()`` is the list of records."""

    doc: Any = field(compare=False)
    cells: tuple[Validation, ...] = ()

    @classmethod
    def from_records(cls, records: list[dict]) -> ValidationMatrix:
        records = plain(records)
        return cls(records, tuple(Validation.from_dict(r) for r in records))

    def to_dict(self) -> Any:
        return copy.deepcopy(self.doc)

    def to_frame(self) -> pd.DataFrame:
        """One row per cell (columns :data:`interplay.frames.CELL_COLUMNS`); ``interplay results --csv``."""
        return frames.cells(self.doc)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells:
            out[str(c.verdict)] = out.get(str(c.verdict), 0) + 1
        return out

    def __repr__(self) -> str:
        return f"ValidationMatrix({len(self.cells)} cells: {self.counts()})"

    def __str__(self) -> str:
        return "\n".join(
            f"{c.defense} -> {c.risk}: literature {c.literature}, prediction {c.prediction}, "
            f"observed {c.observed}, {c.verdict}"
            for c in self.cells
        )

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th>{h}</th>"
            for h in ("defense", "risk", "literature", "prediction", "observed", "verdict", "difference", "p")
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    c.defense,
                    c.risk,
                    c.literature,
                    c.prediction,
                    c.observed,
                    c.verdict,
                    f"{c.effect.difference:+.3f}" if c.effect else "",
                    f"{c.effect.p_value:.2g}" if c.effect else "",
                )
            )
            + "</tr>"
            for c in self.cells
        )
        return f"<table><tr>{head}</tr>{body}</table>"


@dataclass(frozen=True, repr=False)
class ComboValidation(Result):
    """Two defenses deployed together (``interplay validate-combo A B --json``)."""

    defenses: tuple[str, str] = ("", "")
    prediction: str | None = None
    observed: str | None = None
    verdict: Verdict | str | None = None
    seeds: int = 0

    @classmethod
    def from_dict(cls, doc: dict) -> ComboValidation:
        doc = plain(doc)
        return cls(
            doc,
            tuple(doc["defenses"]),
            doc.get("prediction"),
            doc.get("observed"),
            _opt(Verdict, doc.get("verdict")),
            doc.get("seeds", 0),
        )

    def title(self) -> str:
        return " + ".join(self.defenses)

    def __repr__(self) -> str:
        return f"ComboValidation({self.title()}: {self.verdict})"

    def rows(self) -> list[tuple[str, Any]]:
        rows = [("prediction", self.prediction), ("observed", self.observed), ("verdict", self.verdict)]
        rows += [
            (
                f"{s['defense']} with {s['with']}",
                f"predicted {s['prediction']}, observed {s['observed']}: {s['verdict']}",
            )
            for s in self.doc.get("sides", [])
        ]
        return [*rows, ("seeds", self.seeds)]

    def __str__(self) -> str:
        return "\n".join(
            [
                f"{self.title()} on {self.doc.get('dataset')}, {self.seeds} seeds",
                *(f"  {k}: {v}" for k, v in self.rows()[:-1]),
            ]
        )


@dataclass(frozen=True, repr=False)
class Sweep(Result):
    """A factor sweep of one cell (``interplay sweep D R --factor F --values ... --json``)."""

    defense: str = ""
    risk: str = ""
    factor: str = ""
    claim: str = ""
    verdict: str = ""

    @classmethod
    def from_dict(cls, doc: dict) -> Sweep:
        doc = plain(doc)
        return cls(doc, doc["defense"], doc["risk"], doc["factor"], doc["claim"]["direction"], doc["verdict"])

    def title(self) -> str:
        return f"sweep of {self.factor}: {self.defense} -> {self.risk}"

    def to_frame(self) -> pd.DataFrame:
        """One row per value of the factor (columns :data:`interplay.frames.SWEEP_COLUMNS`)."""
        return frames.sweep(self.doc)

    def __repr__(self) -> str:
        return f"Sweep({self.factor} for {self.defense} -> {self.risk}: {self.verdict})"

    def rows(self) -> list[tuple[str, Any]]:
        t = self.doc["risk_trend"]
        rows = [
            ("KB claims", f"{self.doc['factor_node']} -> {self.risk}: {self.claim}"),
            ("baseline trend", f"rho {t['rho']:+.2f}, p {t['p_value']:.2g}"),
            ("verdict", self.verdict),
        ]
        return rows + [
            (f"{self.factor} = {p['value']}", str(Effect.from_dict(p["effect"]))) for p in self.doc["points"]
        ]

    def __str__(self) -> str:
        return "\n".join([self.title(), *(f"  {k}: {v}" for k, v in self.rows())])


@dataclass(frozen=True, repr=False)
class FactorMeasurement(Result):
    """A defense's factors measured against the KB's defense -> factor edges (``interplay measure D --json``)."""

    defense: str = ""

    @classmethod
    def from_dict(cls, doc: dict) -> FactorMeasurement:
        doc = plain(doc)
        return cls(doc, doc["defense"])

    def title(self) -> str:
        return f"factors of {self.defense}"

    def to_frame(self) -> pd.DataFrame:
        """One row per factor (columns :data:`interplay.frames.FACTOR_COLUMNS`)."""
        return frames.factors(self.doc)

    def __repr__(self) -> str:
        verdicts = [f["verdict"] for f in self.doc["factors"].values() if f["verdict"]]
        return f"FactorMeasurement({self.defense}: {len(self.doc['factors'])} factors, {verdicts.count('confirms')} " \
               f"confirm the KB)"  # fmt: skip

    def rows(self) -> list[tuple[str, Any]]:
        return [
            (name, f"{f['observed']} ({f['difference']:+.4f}, q {f['q_value']:.2g}); KB {f['kb'] or '-'}: "
                   f"{f['verdict'] or 'no edge'}")
            for name, f in self.doc["factors"].items()
        ]  # fmt: skip

    def __str__(self) -> str:
        return "\n".join([f"{self.title()} ({self.doc['seeds']} seeds)", *(f"  {k}: {v}" for k, v in self.rows())])


@dataclass(frozen=True, repr=False)
class Reproduction(Result):
    """One of the SoK's Sec. 5 experiments reproduced (``interplay reproduce NAME --json``)."""

    experiment: str = ""
    prediction: str | None = None
    seeds: int = 0

    @classmethod
    def from_dict(cls, doc: dict) -> Reproduction:
        doc = plain(doc)
        return cls(doc, doc["experiment"], doc.get("prediction"), doc.get("seeds", 0))

    def title(self) -> str:
        return f"{self.experiment}: {self.doc['defense']} -> {self.doc['risk']}"

    def __repr__(self) -> str:
        return f"Reproduction({self.experiment}: {len(self.doc['rows'])} settings)"

    def rows(self) -> list[tuple[str, Any]]:
        return [(r["setting"], f"{r['verdict']}; {Effect.from_dict(r['effect'])}") for r in self.doc["rows"]]

    def __str__(self) -> str:
        return "\n".join(
            [
                f"{self.title()} (prediction {self.prediction}, {self.seeds} seeds per setting)",
                *(f"  {k}: {v}" for k, v in self.rows()),
            ]
        )


@dataclass(frozen=True, repr=False)
class Status(Result):
    """Every cell's literature, predictions and experiment (``interplay status --json``)."""

    doc: Any = field(compare=False)
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> Any:
        return copy.deepcopy(self.doc)

    def __repr__(self) -> str:
        return f"Status({len(self.doc)} cells: {self.summary})"

    def __str__(self) -> str:
        return "\n".join(
            f"{r['defense']} -> {r['risk']}: literature {r['literature']}, graph "
            f"{r['predictions']['graph']}, observed {r['observed'] or '-'}, {r['verdict']} "
            f"({r['agreement']})"
            for r in self.doc
        )

    def rows(self) -> list[tuple[str, Any]]:
        return list(self.summary.items())


class Evaluation(dict):
    """A reasoner evaluation (``interplay eval loo --json``): the document itself, plus ``to_frame()``."""

    def to_frame(self) -> pd.DataFrame:
        """One row per method, the evaluated one first (columns :data:`interplay.frames.EVALUATION_COLUMNS`)."""
        return frames.evaluation(self)
