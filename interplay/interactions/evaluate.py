"""Honest evaluation of the reasoner against reported interactions.

``leave_one_paper_out``: for each directed observed cell, hide the cell and every reference it cites (its
own references and its exceptions'); mechanism edges left with no evidence disappear from the graph; then
predict the cell. ``leave_one_paper_out_combos``: the same over the combination observations, one case per
defense whose reported outcome is known. ``score_file``: predictions against any YAML/CSV of reported
interactions.

Selective figures (``selective``, ``risk_coverage``, ``reliability``; :mod:`.selective`): each held-out cell's
probability of being right is calibrated on the other held-out cells only, leaving out every cell that shares one
of its references, so no cell's literature calibrates its own prediction.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from interplay.interactions.combos import predict_combo
from interplay.interactions.prediction import cell_references
from interplay.interactions.reasoner import METHODS, predict
from interplay.interactions.selective import (
    HeldOut,
    abstains,
    pool,
    rate,
    reliability,
    risk_coverage,
    selective_summary,
)
from interplay.interactions.validated import Validations
from interplay.kb import KB, UnknownName

PREDICTED = ("increase", "decrease", "none", "mixed", "ambiguous", "unknown")
COVERED = ("increase", "decrease", "none", "mixed", "ambiguous")
COMBO_LABELS = ("effective", "conflict", "ambiguous")
COMBO_COVERED = ("effective", "conflict")
_DIRECTION_WORDS = {
    "increase": "increase", "increases": "increase", "up": "increase", "red": "increase",
    "decrease": "decrease", "decreases": "decrease", "down": "decrease", "green": "decrease",
    "none": "none", "no effect": "none", "mixed": "mixed", "ambiguous": "mixed",
}  # fmt: skip


class _Judged:
    truth: str
    predicted: str

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth


@dataclass
class Case(_Judged):
    defense: str
    risk: str
    truth: str
    predicted: str
    source: str | None = None
    resolution: str = ""
    refs: tuple[str, ...] = ()
    probability: float | None = None

    @property
    def held_out(self) -> HeldOut:
        return HeldOut(self.defense, self.risk, self.resolution, self.correct, self.refs)


@dataclass
class ComboCase(_Judged):
    """Does ``defense`` stay effective combined with ``other``: reported ``truth`` vs ``predicted``."""

    defense: str
    other: str
    truth: str
    predicted: str
    source: str | None = None


@dataclass
class Score:
    method: str
    cases: list[Case] | list[ComboCase]
    unresolved: list[dict] = field(default_factory=list)
    labels: tuple[str, ...] = PREDICTED
    covered_labels: tuple[str, ...] = COVERED

    @property
    def n(self) -> int:
        return len(self.cases)

    @property
    def covered(self) -> int:
        return sum(c.predicted in self.covered_labels for c in self.cases)

    @property
    def correct(self) -> int:
        return sum(c.correct for c in self.cases)

    def confusion(self) -> dict[str, dict[str, int]]:
        truths = sorted({c.truth for c in self.cases})
        counts = Counter((c.truth, c.predicted) for c in self.cases)
        return {t: {p: counts[(t, p)] for p in self.labels} for t in truths}

    def scored(self) -> list[tuple[float, bool]]:
        """(probability, right) per case that has a probability."""
        return [(c.probability, c.correct) for c in self.cases if isinstance(c, Case) and c.probability is not None]

    def _selective(self) -> dict:
        scored = self.scored()
        if not scored:
            return {}
        return {
            "selective": selective_summary(scored),
            "risk_coverage": risk_coverage(scored),
            "reliability": reliability(scored),
        }

    def to_dict(self) -> dict:
        from scipy.stats import binomtest

        ci = binomtest(self.correct, self.n).proportion_ci(method="exact") if self.n else None
        return {
            "method": self.method,
            "n": self.n,
            "covered": self.covered,
            "correct": self.correct,
            "accuracy": self.correct / self.n if self.n else 0.0,
            "accuracy_ci95": [ci.low, ci.high] if ci else None,
            "accuracy_on_covered": self.correct / self.covered if self.covered else 0.0,
            "coverage": self.covered / self.n if self.n else 0.0,
            "confusion": self.confusion(),
            "errors": [_case_doc(c) for c in self.cases if not c.correct],
            "unresolved": self.unresolved,
        } | self._selective()


def _case_doc(c: Case | ComboCase) -> dict:
    doc = {k: v for k, v in c.__dict__.items() if k != "refs"}
    if doc.get("probability") is not None:
        doc |= {"probability": round(doc["probability"], 3), "abstain": abstains(doc["probability"])}
    return doc


def _majority(kb: KB) -> str:
    counts = Counter(o.direction for o in kb.observations if o.direction != "unexplored")
    return counts.most_common(1)[0][0]


def leave_one_paper_out(
    kb: KB, method: str = "graph", validations: Validations | None = None, evidence: str = "all"
) -> Score:
    """Predict each directed observed cell with the cell and its references hidden; with ``validations``, its
    measured evidence on defense -> factor edges is read as ``evidence`` says (never a cell's own outcome)."""
    cells = [o for o in kb.observations if o.direction != "unexplored"]
    cases = []
    for o in cells:
        refs = tuple(sorted(cell_references(kb, o.defense, o.risk)))
        if method == "majority":
            cases.append(Case(o.defense, o.risk, o.direction, _majority(kb), o.id))
            continue
        p = predict(kb, o.defense, o.risk, method, excluded_refs=refs, validations=validations, evidence=evidence)
        cases.append(Case(o.defense, o.risk, o.direction, p.direction, o.id, p.resolution, refs))
    if method != "majority":
        held = [c.held_out for c in cases]
        for c in cases:  # nested: each cell calibrated on the others' held-out outcomes, its papers' cells left out
            c.probability = rate(pool(held, c.resolution, c.defense, c.risk, c.refs))
    return Score(method, cases)


BASELINES = ("majority", *METHODS)
COMBO_METHODS = ("graph", "majority")


def leave_one_paper_out_combos(kb: KB, method: str = "graph") -> Score:
    """Predict each known side of each combination observation with the observation's references hidden."""
    known = [(o, d) for o in kb.combinations for d in o.defenses if o.outcome[d] != "unknown"]
    majority: str = Counter(o.outcome[d] for o, d in known).most_common(1)[0][0] if known else "effective"
    cases = []
    for o, d in known:
        other = next(x for x in o.defenses if x != d)
        if method == "majority":
            predicted = majority
        else:
            combo = predict_combo(kb, d, other, o.context, excluded_refs={ev.ref for ev in o.evidence})
            predicted = combo.sides[0].status
        cases.append(ComboCase(d, other, o.outcome[d], predicted, o.id))
    return Score(method, cases, labels=COMBO_LABELS, covered_labels=COMBO_COVERED)


def read_records(path: Path) -> list[dict]:
    """Records with fields defense, risk, direction (and optionally source) from YAML or CSV."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(text.splitlines())]
    doc = yaml.safe_load(text)
    if isinstance(doc, dict):
        doc = doc.get("records") or doc.get("interactions") or doc.get("observations")
    if not isinstance(doc, list):
        raise ValueError(f"{path}: expected a list of records (or a mapping with a 'records' list)")
    return doc


def score_records(kb: KB, records: list[dict], method: str = "graph") -> Score:
    """Score predictions against reported records; unresolvable records are listed, not fatal."""
    cases, unresolved = [], []
    for i, rec in enumerate(records):
        try:
            if not isinstance(rec, dict):
                raise ValueError("not a mapping")
            d = kb.resolve(str(rec.get("defense", "")), "defense")
            r = kb.resolve(str(rec.get("risk", "")), "risk")
            truth = _DIRECTION_WORDS.get(str(rec.get("direction", "")).strip().lower())
            if truth is None:
                raise ValueError(f"unknown direction {rec.get('direction')!r}")
        except (UnknownName, ValueError) as exc:
            unresolved.append({"record": i, "reason": str(exc)})
            continue
        p = predict(kb, d, r, method)  # its probability from the shipped calibrator (held-out SoK cells)
        cases.append(Case(d, r, truth, p.direction, rec.get("source"), p.resolution, probability=p.probability))
    return Score(method, cases, unresolved)
