"""Predict conflicts between two defenses deployed together.

Semantics. Deploying A *with* B is an intervention by A on a model that also relies on B. A changes factors
(its effect edges and explicit mechanisms, exactly the paths the graph method follows from A to a factor);
B's effectiveness correlates with factors (B's Table 2 arrows, moderator arrows included: they say when B
works). Each path ``A -> ... -> f`` followed by B's arrow on ``f`` is a signed path ``A -> ... -> f ~> B``
whose sign is the QPN product: ``+`` (A moves f the way B works better), ``-`` (A moves f against B). The
paths of one side are resolved with the reasoner's ladder (:func:`resolve_paths`), where the dominant factors
are those the attack on B's target risk measures by definition.

Per side, ``-`` predicts ``conflict`` (B loses effectiveness), ``+`` or ``0`` predicts ``effective``, an
unresolved conflict predicts ``ambiguous``; no path at all predicts ``effective`` by default (nothing links
A to what B depends on), with confidence 0 and resolution ``no-path``. A defense designed against none of
the eight risks (no KB ``targets``, e.g. dropout) has no effectiveness to lose: its side is ``no-target``. The
combination is a ``conflict`` if either side is, ``compatible`` if every side with a target stays effective,
else ``ambiguous``. Combination observations in the
KB are attached as ``known`` and never read to predict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import networkx as nx

from interplay.errors import UsageError
from interplay.interactions.graph import build_graph, full_context
from interplay.interactions.paths import SignedPath, path_edge, signed_paths
from interplay.interactions.prediction import split_paths
from interplay.interactions.reasoner import resolve_paths
from interplay.interactions.signs import FROM_WORD, Sign, product, total
from interplay.kb import KB

STATUS: dict[Sign, str] = {"+": "effective", "0": "effective", "-": "conflict", "?": "ambiguous"}
_ARROW_WORD = {"up": "increases", "down": "decreases"}
NO_TARGET = "no-target"


class SameDefense(UsageError, ValueError):
    """A combination needs two different defenses."""


@dataclass
class SidePrediction:
    """Does ``defense`` stay effective when ``other`` is deployed in the same model?"""

    defense: str
    other: str
    status: str
    resolution: str
    confidence: float
    sign: Sign
    qpn_sign: Sign
    supporting: list[SignedPath] = field(default_factory=list)
    opposing: list[SignedPath] = field(default_factory=list)
    neutral: list[SignedPath] = field(default_factory=list)
    known: str | None = None

    def to_dict(self) -> dict:
        roles = [("supporting", self.supporting), ("opposing", self.opposing), ("neutral", self.neutral)]
        return {
            "defense": self.defense,
            "with": self.other,
            "prediction": self.status,
            "resolution": self.resolution,
            "confidence": round(self.confidence, 3),
            "sign": self.sign,
            "qpn_sign": self.qpn_sign,
            "known": self.known,
            "paths": [p.to_dict(role) for role, ps in roles for p in ps],
        }


@dataclass
class ComboPrediction:
    a: str
    b: str
    sides: tuple[SidePrediction, SidePrediction]
    context: dict[str, str]
    known: dict | None = None

    @property
    def verdict(self) -> str:
        statuses = {s.status for s in self.sides} - {NO_TARGET}
        if not statuses:
            return NO_TARGET
        if "conflict" in statuses:
            return "conflict"
        return "compatible" if statuses <= {"effective"} else "ambiguous"

    @property
    def confidence(self) -> float:
        if self.verdict == "conflict":
            return max(s.confidence for s in self.sides if s.status == "conflict")
        return min(s.confidence for s in self.sides if s.status != NO_TARGET) if self.verdict != NO_TARGET else 0.0

    def to_dict(self) -> dict:
        return {
            "defenses": [self.a, self.b],
            "prediction": self.verdict,
            "confidence": round(self.confidence, 3),
            "context": self.context,
            "known": self.known,
            "sides": [s.to_dict() for s in self.sides],
        }


def _effectiveness_arrows(g: nx.MultiDiGraph, defense: str) -> list[tuple[str, str, str]]:
    """B's Table 2 arrows as (factor, edge key, sign word): how B's effectiveness varies with each factor."""
    return [
        (v, k, _ARROW_WORD[d["edge"].sok_arrow])
        for _, v, k, d in g.out_edges(defense, keys=True, data=True)
        if d["role"] == "defense-factor" and d["edge"].sok_arrow
    ]


def combo_paths(effects: nx.MultiDiGraph, arrows: nx.MultiDiGraph, other: str, defense: str) -> list[SignedPath]:
    """Signed paths ``other -> ... -> factor ~> defense``: what ``other`` does to what ``defense`` relies on.

    ``effects`` is the traversable graph (no moderators), ``arrows`` the one with moderators.
    """
    paths = []
    for factor, key, word in _effectiveness_arrows(arrows, defense):
        arrow = replace(path_edge(arrows, defense, factor, key), source=factor, target=defense, sign=word)
        contextual = bool(arrows.edges[defense, factor, key]["edge"].conditions)
        active = bool(arrows.nodes[factor]["active"])
        for p in signed_paths(effects, other, factor):
            sign = product(p.sign, FROM_WORD[word])
            paths.append(
                SignedPath((*p.edges, arrow), sign, p.weight * arrow.weight, active, p.contextual or contextual)
            )
    paths.sort(key=lambda p: (-p.weight, len(p.edges)))
    return paths


def _side(kb: KB, effects, arrows, defense: str, other: str) -> SidePrediction:
    if not kb.defenses[defense].targets:
        return SidePrediction(defense, other, NO_TARGET, NO_TARGET, 0.0, "0", "0")
    paths = combo_paths(effects, arrows, other, defense)
    exploited = frozenset(f for r in kb.defenses[defense].targets for f in kb.risks[r].exploits)
    sign, how, conf = resolve_paths(paths, exploited)
    if how == "no-path":
        sign = "0"
    sup, opp, neu = split_paths(paths, "+" if sign == "?" else sign) if sign != "0" else ([], [], paths)
    return SidePrediction(defense, other, STATUS[sign], how, conf, sign, total(p.sign for p in paths), sup, opp, neu)


def known_combination(kb: KB, a: str, b: str) -> dict | None:
    obs = kb.combination(a, b)
    if obs is None:
        return None
    return {
        "observation": obs.id,
        "outcome": obs.outcome,
        "refs": sorted({ev.ref for ev in obs.evidence}),
        "conflict": any(v == "conflict" for v in obs.outcome.values()),
    }


def predict_combo(
    kb: KB, a: str, b: str, context: dict[str, str] | None = None, excluded_refs: Iterable[str] = ()
) -> ComboPrediction:
    """Predict whether defenses ``a`` and ``b`` (names may be aliases) each stay effective when combined."""
    a, b = kb.resolve(a, "defense"), kb.resolve(b, "defense")
    if a == b:
        raise SameDefense(f"a combination needs two different defenses, got {a!r} twice")
    ctx = full_context(kb, context)
    excluded = frozenset(excluded_refs)
    effects = build_graph(kb, ctx, excluded)
    arrows = build_graph(kb, ctx, excluded, include_moderators=True)
    sides = (_side(kb, effects, arrows, a, b), _side(kb, effects, arrows, b, a))
    known = known_combination(kb, a, b)
    for s in sides:
        s.known = known["outcome"][s.defense] if known else None
    return ComboPrediction(a, b, sides, ctx, known)


def predict_all_combos(
    kb: KB, context: dict[str, str] | None = None, defenses: Iterable[str] | None = None
) -> list[ComboPrediction]:
    """Every unordered pair of defenses (or of ``defenses``), in KB order."""
    ids = list(kb.defenses) if defenses is None else [d for d in kb.defenses if d in set(defenses)]
    return [predict_combo(kb, a, b, context) for i, a in enumerate(ids) for b in ids[i + 1 :]]
