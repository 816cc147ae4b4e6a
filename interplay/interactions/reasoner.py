"""Predict the direction of a defense -> risk interaction by traversing the mechanism graph.

Methods:

``graph`` (default): qualitative-probabilistic-network sign propagation over every directed simple path
  defense -> factors/mediators/mechanisms -> risk. The strict QPN sum is reported as ``qpn_sign``; a
  conflict (``?``) is resolved by the ladder: (1) *context*: the context selected the conditional edges,
  and paths through a conditional edge that holds (the specific adversary model asked about) decide when
  they agree; (2) *unanimous*: every informative path has one sign; (3) *dominant*: the paths through a
  factor the risk's attack measures by definition (``Risk.exploits``) agree, else the paths whose last
  node before the risk is active (O1, O2.x, O3 or an active mechanism: a factor the attack exploits
  directly, as the SoK's guideline requires of a dominant factor) agree; (4) *weighted*: the evidence-weighted vote of
  the active paths (all paths if none is active) leaves a margin of at least ``MARGIN``; else ``mixed``
  (resolution ``conflict``). The graph method answers ``none`` when no path links the defense to the risk
  (``no-path``) or when the strongest path behind the answer is weaker than one conjectured link
  (weight below ``KIND_WEIGHT["conjectured"]``; resolution ``weak``). These rules read the mechanism graph only.
  ``depends_on``: the context keys whose other values change the answer, with the answer under each value (the
  answer itself is the one under the context asked, the KB's defaults filling the rest).
``guideline``: the SoK's own Sec. 4.4 procedure over its Table 2 arrows (see :mod:`.guideline`).
``shortest-path``: the sign of the shortest paths alone (a baseline).

Every prediction carries ``probability`` (of being right) and ``abstain`` from the calibrator (:mod:`.selective`),
fitted on held-out cells only. Observations are never read to predict; they are attached as ``known`` for
comparison only. Validation results
(``validations``, see :mod:`.validated`) are read back when given: sweep marks scale the graph-based methods'
edge weights and the cell's experiment is attached as ``validation``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

from interplay.interactions.graph import KIND_WEIGHT, build_graph, full_context
from interplay.interactions.guideline import guideline
from interplay.interactions.paths import SignedPath, signed_paths
from interplay.interactions.prediction import Prediction, cell_references, known_direction, make_prediction, noisy_or
from interplay.interactions.selective import THRESHOLD, abstains, calibration_rows, pool, rate
from interplay.interactions.signs import Sign
from interplay.kb import KB

if TYPE_CHECKING:
    from interplay.interactions.validated import Validations

METHODS = ("graph", "guideline", "shortest-path")
MARGIN = 0.2
WEAK = KIND_WEIGHT["conjectured"]


def _agreeing(paths: list[SignedPath]) -> Sign | None:
    signs = {p.sign for p in paths}
    return signs.pop() if len(signs) == 1 else None


def resolve_paths(paths: list[SignedPath], exploited: frozenset[str] = frozenset()) -> tuple[Sign, str, float]:
    """Apply the resolution ladder to signed paths: (sign, resolution, confidence).

    ``exploited`` are the factors the risk's attack measures by definition; paths through them dominate
    first, then paths through any active node.
    """
    informative = [p for p in paths if p.sign in ("+", "-")]
    if not paths:
        return "?", "no-path", 0.0
    if not informative:
        return ("0" if all(p.sign == "0" for p in paths) else "?"), "uninformative", 0.0
    total_weight = sum(p.weight for p in informative)
    tiers = [
        ("context", [p for p in informative if p.contextual]),
        ("unanimous", informative),
        ("dominant", [p for p in informative if exploited & set(p.nodes[1:-1])]),
        ("dominant", [p for p in informative if p.active]),
    ]
    for how, tier in tiers:
        s = _agreeing(tier) if tier else None
        if s is not None:
            share = 1.0 if how == "unanimous" else sum(p.weight for p in informative if p.sign == s) / total_weight
            return s, how, noisy_or(tier) * share
    pool = [p for p in informative if p.active] or informative
    up = sum(p.weight for p in pool if p.sign == "+")
    down = sum(p.weight for p in pool if p.sign == "-")
    margin = (up - down) / (up + down)
    if abs(margin) >= MARGIN:
        s = "+" if margin > 0 else "-"
        return s, "weighted", abs(margin) * noisy_or(p for p in pool if p.sign == s)
    return "?", "conflict", 0.0


def graph_answer(paths: list[SignedPath], sign: Sign, how: str) -> tuple[str | None, str]:
    """The graph method's answer where it is not the sign's: ``none`` (no path; only weak paths behind the
    answer) or ``mixed`` (a conflict the ladder cannot resolve), with the resolution it gets."""
    if how == "no-path":
        return "none", how
    if sign == "?":
        return "mixed", how
    if sign in ("+", "-") and max(p.weight for p in paths if p.sign == sign) < WEAK:
        return "none", "weak"
    return None, how


def _graph_method(kb: KB, defense: str, risk: str, ctx: dict, excluded: frozenset[str], view: dict) -> Prediction:
    paths = signed_paths(build_graph(kb, ctx, excluded, **view), defense, risk)
    sign, how, conf = resolve_paths(paths, frozenset(kb.risks[risk].exploits))
    answer, how = graph_answer(paths, sign, how)
    return make_prediction(defense, risk, "graph", sign, how, conf, paths, ctx, answer)


def _context_keys(kb: KB, defense: str, risk: str) -> list[str]:
    """The context keys that qualify an edge (or an evidence item) lying between ``defense`` and ``risk``."""
    g = nx.DiGraph((e.source, e.target) for e in kb.edges if e.interpretation != "moderator")
    if defense not in g or risk not in g:
        return []
    between = (nx.descendants(g, defense) | {defense}) & (nx.ancestors(g, risk) | {risk})
    keys = {
        k
        for e in kb.edges
        if e.source in between and e.target in between
        for k in [*e.conditions, *(c for ev in e.evidence for c in ev.conditions)]
    }
    return [k for k in kb.contexts if k in keys]


def _depends_on(kb: KB, pred: Prediction, excluded: frozenset[str], view: dict) -> dict[str, dict[str, str]]:
    out = {}
    for key in _context_keys(kb, pred.defense, pred.risk):
        answers = {
            v: _graph_method(kb, pred.defense, pred.risk, pred.context | {key: v}, excluded, view).direction
            for v in kb.contexts[key].values
        }
        if len(set(answers.values())) > 1:
            out[key] = {v: str(a) for v, a in answers.items()}
    return out


def _why(pred: Prediction, rows: int) -> list[str]:
    p = pred.probability or 0.0
    told = {
        "no-path": "no mechanism path links the defense to the risk, so no effect is expected",
        "weak": f"every path behind the answer is weaker than one conjectured link (weight < {WEAK}), so no "
        "effect of note is expected",
        "conflict": "the paths conflict and no rung of the ladder resolves them",
    }.get(pred.resolution, f"resolved by the ladder's '{pred.resolution}' rung")
    verdict = "withheld" if pred.abstain else "given"
    lines = [
        f"{pred.direction}: {told}",
        f"answer {verdict}: probability right {p:.2f} ({'at most' if pred.abstain else 'above'} {THRESHOLD}), the "
        f"rate of right answers on {rows} held-out cell{'s' * (rows != 1)} resolved '{pred.resolution}' "
        "(leave-one-paper-out)",
    ]
    for key, answers in pred.depends_on.items():
        lines.append(f"depends on {key}: " + ", ".join(f"{v} -> {a}" for v, a in answers.items()))
    return lines


def _calibrate(kb: KB, pred: Prediction) -> None:
    rows = pool(
        calibration_rows(pred.method),
        pred.resolution,
        pred.defense,
        pred.risk,
        cell_references(kb, pred.defense, pred.risk),
    )
    pred.probability = rate(rows)
    pred.abstain = abstains(pred.probability)
    pred.why = _why(pred, len(rows))


def _shortest_method(kb: KB, defense: str, risk: str, ctx: dict, excluded: frozenset[str], view: dict) -> Prediction:
    paths = signed_paths(build_graph(kb, ctx, excluded, **view), defense, risk)
    shortest = [p for p in paths if paths and len(p.edges) == min(len(q.edges) for q in paths)]
    signs = {p.sign for p in shortest}
    sign: Sign = signs.pop() if len(signs) == 1 else ("?" if shortest else "?")
    how = "no-path" if not shortest else ("unanimous" if sign in "+-0" else "conflict")
    conf = noisy_or(shortest) if sign in "+-" else 0.0
    return make_prediction(defense, risk, "shortest-path", sign, how, conf, shortest, ctx)


def predict(
    kb: KB,
    defense: str,
    risk: str,
    method: str = "graph",
    context: dict[str, str] | None = None,
    excluded_refs: Iterable[str] = (),
    validations: Validations | None = None,
    evidence: str = "all",
) -> Prediction:
    """Predict how deploying ``defense`` changes susceptibility to ``risk`` (names may be aliases).

    ``validations``: the validated-here layer to read back (default none: the curated KB alone); ``evidence``:
    whether its measured evidence on defense -> factor edges is read (``all``, ``measured``) or not
    (``literature``).
    """
    d, r = kb.resolve(defense, "defense"), kb.resolve(risk, "risk")
    ctx = full_context(kb, context)
    excluded = frozenset(excluded_refs)
    view = {
        "marks": validations.edge_marks if validations else None,
        "measured": validations.measured_marks if validations else None,
        "evidence": evidence,
    }
    if method == "graph":
        pred = _graph_method(kb, d, r, ctx, excluded, view)
    elif method == "guideline":
        pred = guideline(kb, d, r, ctx, excluded)
    elif method == "shortest-path":
        pred = _shortest_method(kb, d, r, ctx, excluded, view)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "graph":
        pred.depends_on = _depends_on(kb, pred, excluded, view)
    _calibrate(kb, pred)
    pred.known = known_direction(kb, d, r, ctx)
    pred.validation = validations.cell(d, r) if validations else None
    return pred


def predict_all(
    kb: KB,
    method: str = "graph",
    context: dict[str, str] | None = None,
    validations: Validations | None = None,
    defenses: Iterable[str] | None = None,
) -> list[Prediction]:
    """Predictions for every defense (or each of ``defenses``) x risk cell, defenses and risks in KB order."""
    chosen = list(kb.defenses) if defenses is None else [d for d in kb.defenses if d in set(defenses)]
    return [predict(kb, d, r, method, context, validations=validations) for d in chosen for r in kb.risks]
