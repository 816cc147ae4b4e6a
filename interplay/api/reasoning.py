"""The API's reasoning: predictions, explanations, the matrix, conflicts, pairs and the honest evaluations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from interplay.arguments import checked
from interplay.errors import UsageError
from interplay.interactions import predict as _predict
from interplay.interactions import predict_all
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
from interplay.results import (
    Evaluation,
)

if TYPE_CHECKING:
    pass
from interplay.api._common import KBLike, StoreLike, _check_evidence, _check_method, _kb, _select, read_validations


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
