"""One status view of every defense x risk cell: literature, predictions, experiment, and whether they agree.

A record (``cell_status``) has ``defense``, ``risk``, ``literature`` (the reported direction, or ``unexplored``)
with its ``references``, ``exceptions`` and ``conjecture``; ``prediction`` (the direction of ``method``, by
default the graph method) and ``predictions`` (per method: ``method``, graph and guideline); ``observed`` and
``verdict`` (``not validated`` without an experiment) with the experiment's ``validation`` record (the generic
setting's where there is one), its ``regime``, and ``settings``: the observed direction, verdict, regime and
dataset under each setting the cell was validated under (``generic``, ``literature``); ``agreement`` and the
pairwise ``agreements`` it summarises:

* ``prediction-literature``: the prediction equals the reported direction (None when unexplored);
* ``prediction-experiment``: the stored verdict (``confirmed`` True, ``refuted`` False, else None) when it
  judged this prediction; when the experiment judged another (``stale``: the KB changed, or another method),
  whether a significant observed direction equals the prediction;
* ``literature-experiment``: the observed direction equals the reported one (None when either is missing or
  nothing significant was observed).

``agreement`` is ``disagree`` when any pair disagrees, ``all agree`` when all three pairs agree, ``agree``
when the pairs that can be compared agree, and ``open`` when none can. Cells whose prediction and
experiment disagree come first, then other disagreements, then KB order.
"""

from __future__ import annotations

from collections.abc import Iterable

from interplay.interactions.reasoner import Prediction, predict
from interplay.interactions.validated import ValidationRecord, Validations
from interplay.kb import KB

STATUS_METHODS = ("graph", "guideline")
NOT_VALIDATED = "not validated"
PAIRS = ("prediction-literature", "prediction-experiment", "literature-experiment")


def _agreements(literature: str, prediction: str, v: ValidationRecord | None) -> dict[str, bool | None]:
    directed = literature in ("increase", "decrease")
    significant = v is not None and v.observed in ("increase", "decrease")
    if v is None:
        experiment = None
    elif v.prediction == prediction:
        experiment = {"confirmed": True, "refuted": False}.get(v.verdict)
    else:
        experiment = (v.observed == prediction) if significant else None
    return {
        "prediction-literature": (prediction == literature) if directed else None,
        "prediction-experiment": experiment,
        "literature-experiment": (v.observed == literature) if directed and significant and v is not None else None,
    }


def summarise(agreements: dict[str, bool | None]) -> str:
    values = list(agreements.values())
    if False in values:
        return "disagree"
    if all(values):
        return "all agree"
    return "agree" if True in values else "open"


def _by_setting(validations: Validations | None, defense: str, risk: str) -> dict[str, dict]:
    if validations is None:
        return {}
    return {
        name: {"observed": v.observed, "verdict": v.verdict, "regime": v.regime, "dataset": v.dataset}
        for name, v in validations.settings_of(defense, risk).items()
    }


def _record(kb: KB, preds: dict[str, Prediction], method: str, validations: Validations | None = None) -> dict:
    p = preds[method]
    obs = kb.observation(p.defense, p.risk)
    literature = obs.direction if obs else "unexplored"
    v = p.validation
    observed, verdict = (v.observed, v.verdict) if v else (None, NOT_VALIDATED)
    agreements = _agreements(literature, p.direction, v)
    return {
        "defense": p.defense,
        "risk": p.risk,
        "literature": literature,
        "references": list(obs.refs) if obs else [],
        "exceptions": [x.model_dump(exclude_none=True) for x in obs.exceptions] if obs else [],
        "conjecture": obs.conjecture.direction if obs and obs.conjecture else None,
        "prediction": p.direction,
        "predictions": {m: preds[m].direction for m in preds},
        "confidence": round(p.confidence, 3),
        "observed": observed,
        "verdict": verdict,
        "validation": v.to_dict() if v else None,
        "regime": v.regime if v else None,
        "settings": _by_setting(validations, p.defense, p.risk),
        "stale": bool(v and v.prediction and v.prediction != p.direction),
        "agreement": summarise(agreements),
        "agreements": agreements,
    }


def _rank(rec: dict) -> int:
    if rec["agreements"]["prediction-experiment"] is False:
        return 0
    return 1 if rec["agreement"] == "disagree" else 2


def cell_status(
    kb: KB, validations: Validations | None = None, method: str = "graph", defenses: Iterable[str] | None = None
) -> list[dict]:
    """One record per defense (or each of ``defenses``) x risk cell (see the module docstring), disagreements
    with experiments first.

    ``stale``: the stored experiment judged a different prediction than ``method``'s current one.
    """
    methods = dict.fromkeys((method, *STATUS_METHODS))
    records = [
        _record(kb, {m: predict(kb, d, r, m, validations=validations) for m in methods}, method, validations)
        for d in (kb.defenses if defenses is None else [d for d in kb.defenses if d in set(defenses)])
        for r in kb.risks
    ]
    return sorted(records, key=_rank)  # stable: KB order within a rank


def summary(records: list[dict]) -> dict:
    """Counts over status records: cells, validated, verdicts, agreement classes and per-pair disagreements."""
    counts = {"cells": len(records), "validated": sum(r["verdict"] != NOT_VALIDATED for r in records)}
    for key in ("confirmed", "refuted", "inconclusive", "not-applicable", NOT_VALIDATED):
        counts[key] = sum(r["verdict"] == key for r in records)
    for key in ("all agree", "agree", "disagree", "open"):
        counts[key] = sum(r["agreement"] == key for r in records)
    for pair in PAIRS:
        counts[f"{pair} disagree"] = sum(r["agreements"][pair] is False for r in records)
    return counts
