"""Tidy pandas tables of the API's results: one row per cell, seed, sweep value, factor or method.

Every function reads a result's JSON document (the ``--json`` output), so a table is the same whether the result
came from a run, from the store or from a file. The columns are listed in docs/api.md. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

EFFECT_COLUMNS = ("metric", "baseline", "defended", "difference", "ci_low", "ci_high", "p_value", "min_effect",
                  "evidence")  # fmt: skip
CELL_COLUMNS = ("defense", "risk", "dataset", "setting", "literature", "prediction", "observed", "verdict",
                *EFFECT_COLUMNS, "defense_effective", "utility_difference", "seeds", "config_hash")  # fmt: skip
SEED_COLUMNS = ("defense", "risk", "seed", "metric", "baseline", "defended", "difference")
SWEEP_COLUMNS = ("defense", "risk", "factor", "knob", "value", *EFFECT_COLUMNS, "q_value", "claim", "verdict")
FACTOR_COLUMNS = ("defense", "factor", "kb", "observed", "difference", "p_value", "q_value", "verdict", "seeds")
EVALUATION_COLUMNS = ("method", "n", "covered", "correct", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                      "coverage", "accuracy_on_covered", "evidence")  # fmt: skip


def _frame(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))


def _effect(e: Mapping[str, Any] | None) -> dict[str, Any]:
    if not e:
        return {}
    lo, hi = e.get("ci95") or (None, None)
    return {k: e.get(k) for k in EFFECT_COLUMNS} | {"ci_low": lo, "ci_high": hi}


def cell_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One validation document as a row of :data:`CELL_COLUMNS`."""
    return {
        **{k: doc.get(k) for k in CELL_COLUMNS},
        **_effect(doc.get("effect")),
        "setting": (doc.get("setting") or {}).get("name"),
        "utility_difference": (doc.get("utility") or {}).get("difference"),
    }


def cells(docs: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Validations, one row per cell (``interplay results --csv``)."""
    return _frame((cell_row(d) for d in docs), CELL_COLUMNS)


def seed_rows(doc: Mapping[str, Any], runs: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The per-seed paired scores behind a validation ``doc``, from its stored seed ``runs`` ({seed: record}), for
    the seeds the document used: the probe's score, or its raw ``metric`` when that is what the effect was computed
    on (the one whose mean difference is the document's); none when neither reproduces it."""
    effect = doc.get("effect") or {}
    used = [runs[s] for s in doc.get("seed_list") or [] if s in runs]
    if not used or len(used) != len(doc.get("seed_list") or []):
        return []
    for key in ("score", effect.get("metric")):
        try:
            pairs = [(_score(r["baseline"], doc["risk"], key), _score(r["defended"], doc["risk"], key)) for r in used]
        except (KeyError, TypeError, ValueError):
            continue
        if reproduces(pairs, effect):
            return [{"defense": doc["defense"], "risk": doc["risk"], "seed": r["seed"], "metric": effect.get("metric"),
                     "baseline": b, "defended": d, "difference": d - b}
                    for r, (b, d) in zip(used, pairs, strict=True)]  # fmt: skip
    return []


def _score(arm: Mapping[str, Any], risk: str, key: str | None) -> float:
    m = arm["risks"][risk]
    return float(m["score"] if key == "score" else m["raw"][key])


def reproduces(pairs: Iterable[tuple[float, float]], effect: Mapping[str, Any]) -> bool:
    """Whether the mean of the (baseline, defended) ``pairs``' differences is ``effect``'s difference (or it has
    none): the scores are the ones the effect was computed on."""
    diffs = [d - b for b, d in pairs]
    if not diffs:
        return False
    if "difference" not in effect:
        return True
    return math.isclose(sum(diffs) / len(diffs), effect["difference"], rel_tol=1e-9, abs_tol=1e-12)


def seeds(doc: Mapping[str, Any], runs: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """A validation's seeds, one row per seed (:func:`seed_rows`)."""
    return _frame(seed_rows(doc, runs), SEED_COLUMNS)


def sweep(doc: Mapping[str, Any]) -> pd.DataFrame:
    """A factor sweep, one row per value of the factor."""
    common = {k: doc.get(k) for k in ("defense", "risk", "factor", "knob", "verdict")}
    claim = (doc.get("claim") or {}).get("direction")
    rows = [{**common, "value": p["value"], **_effect(p["effect"]), "q_value": p["effect"].get("q_value"),
             "claim": claim} for p in doc.get("points", [])]  # fmt: skip
    return _frame(rows, SWEEP_COLUMNS)


def factors(doc: Mapping[str, Any]) -> pd.DataFrame:
    """A defense's factor measurement, one row per factor."""
    rows = [{**f, "defense": doc["defense"], "factor": name, "seeds": doc.get("seeds")}
            for name, f in doc.get("factors", {}).items()]  # fmt: skip
    return _frame(rows, FACTOR_COLUMNS)


def evaluation(doc: Mapping[str, Any]) -> pd.DataFrame:
    """A reasoner evaluation (``eval loo --json``), one row per method: the evaluated one, then its baselines."""

    def row(d: Mapping[str, Any]) -> dict[str, Any]:
        lo, hi = d.get("accuracy_ci95") or (None, None)
        return {**d, "accuracy_ci_low": lo, "accuracy_ci_high": hi, "evidence": d.get("evidence", doc.get("evidence"))}

    return _frame([row(doc), *(row(b) for b in doc.get("baselines", []))], EVALUATION_COLUMNS)
