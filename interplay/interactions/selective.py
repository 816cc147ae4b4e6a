"""Selective prediction: the calibrated probability that a prediction is right, and when to abstain.

The calibrator is data: for each method, the held-out outcome of every directed observed cell under
leave-one-paper-out (``python -m interplay.interactions.calibrate`` writes ``calibration.json``; a test checks it
is up to date). A prediction's probability is the smoothed rate of right answers among the held-out cells the
method resolved the same way (its ``resolution``: unanimous, dominant, weighted, context, weak, conflict, no-path,
...): ``(right + 1) / (cells + 2)`` (Laplace's rule). The cells that share a reference with the cell being
predicted, the cell itself included, are left out of that rate, so a cell's own literature never calibrates its
prediction. A prediction abstains unless it is more likely right than wrong (probability above ``THRESHOLD``).

Torch-free; the literature enters only through the held-out scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

CALIBRATION = Path(__file__).with_name("calibration.json")
THRESHOLD = 0.5
RELIABILITY_BINS = 5


@dataclass(frozen=True)
class HeldOut:
    """One directed observed cell predicted under leave-one-paper-out: how it was resolved and whether it was right."""

    defense: str
    risk: str
    resolution: str
    correct: bool
    refs: tuple[str, ...]


def pool(rows: Iterable[HeldOut], resolution: str, defense: str, risk: str, refs: Iterable[str]) -> list[HeldOut]:
    """The rows resolved as ``resolution``, leaving out the cell (``defense``, ``risk``) and every row that shares
    one of ``refs``: what calibrates that cell's prediction."""
    hidden = frozenset(refs)
    return [
        r
        for r in rows
        if r.resolution == resolution and (r.defense, r.risk) != (defense, risk) and not hidden & set(r.refs)
    ]


def rate(rows: Sequence[HeldOut]) -> float:
    """The smoothed rate of right answers (Laplace's rule)."""
    return (sum(r.correct for r in rows) + 1) / (len(rows) + 2)


def abstains(p: float, threshold: float = THRESHOLD) -> bool:
    return not p > threshold


@cache
def _load(path: Path) -> dict[str, tuple[HeldOut, ...]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {
        method: tuple(HeldOut(**(r | {"refs": tuple(r["refs"])})) for r in rows)
        for method, rows in doc["methods"].items()
    }


def calibration_rows(method: str, path: Path = CALIBRATION) -> tuple[HeldOut, ...]:
    """The shipped held-out outcomes of ``method`` (empty for a method that was not calibrated)."""
    return _load(path).get(method, ())


def document(rows_by_method: Mapping[str, Sequence[HeldOut]]) -> dict:
    """The ``calibration.json`` document for the held-out outcomes of each method."""
    return {
        "about": "held-out outcomes under leave-one-paper-out; written by python -m interplay.interactions.calibrate",
        "threshold": THRESHOLD,
        "methods": {m: [asdict(r) | {"refs": list(r.refs)} for r in rows] for m, rows in rows_by_method.items()},
    }


def risk_coverage(scored: Sequence[tuple[float, bool]]) -> list[dict]:
    """Answering the cells whose probability is at least each distinct value: coverage, accuracy and risk."""
    n = len(scored)
    curve = []
    for t in sorted({p for p, _ in scored}, reverse=True):
        answered = [ok for p, ok in scored if p >= t]
        acc = sum(answered) / len(answered)
        curve.append({"threshold": round(t, 3), "coverage": len(answered) / n, "accuracy": acc, "risk": 1 - acc})
    return curve


def reliability(scored: Sequence[tuple[float, bool]], bins: int = RELIABILITY_BINS) -> list[dict]:
    """Per probability bin of width 1/``bins``: how many predictions, their mean probability and their accuracy."""
    table = []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        inside = [(p, ok) for p, ok in scored if lo <= p < hi or (i == bins - 1 and p == 1.0)]
        table.append(
            {
                "bin": [lo, hi],
                "n": len(inside),
                "mean_probability": sum(p for p, _ in inside) / len(inside) if inside else None,
                "accuracy": sum(ok for _, ok in inside) / len(inside) if inside else None,
            }
        )
    return table


def selective_summary(scored: Sequence[tuple[float, bool]], threshold: float = THRESHOLD) -> dict:
    """Accuracy on the answered predictions (probability above ``threshold``) and the share answered."""
    answered = [ok for p, ok in scored if not abstains(p, threshold)]
    return {
        "accuracy": sum(answered) / len(answered) if answered else 0.0,
        "coverage": len(answered) / len(scored) if scored else 0.0,
        "threshold": threshold,
        "answered": len(answered),
        "correct": sum(answered),
    }
