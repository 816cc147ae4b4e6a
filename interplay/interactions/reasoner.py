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
  the active paths (all paths if none is active) leaves a margin of at least ``MARGIN``; else ``ambiguous``.
``guideline``: the SoK's own Sec. 4.4 procedure over its Table 2 arrows (see :mod:`.guideline`).
``shortest-path``: the sign of the shortest paths alone (a baseline).

Observations are never read to predict; they are attached as ``known`` for comparison only. Validation results
(``validations``, see :mod:`.validated`) are read back when given: sweep marks scale the graph-based methods'
edge weights and the cell's experiment is attached as ``validation``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from interplay.interactions.graph import build_graph, full_context
from interplay.interactions.guideline import guideline
from interplay.interactions.paths import SignedPath, signed_paths
from interplay.interactions.prediction import Prediction, known_direction, make_prediction, noisy_or
from interplay.interactions.signs import Sign
from interplay.kb import KB

if TYPE_CHECKING:
    from interplay.interactions.validated import Validations

METHODS = ("graph", "guideline", "shortest-path")
MARGIN = 0.2


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


def _graph_method(kb: KB, defense: str, risk: str, ctx: dict, excluded: frozenset[str], view: dict) -> Prediction:
    paths = signed_paths(build_graph(kb, ctx, excluded, **view), defense, risk)
    sign, how, conf = resolve_paths(paths, frozenset(kb.risks[risk].exploits))
    return make_prediction(defense, risk, "graph", sign, how, conf, paths, ctx)


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
