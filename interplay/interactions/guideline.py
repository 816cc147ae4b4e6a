"""The SoK's guideline (Sec. 4.4) applied mechanically to its Table 2 arrows: the baseline method.

1. Common factors: factors with a Table 2 arrow for both the defense and the risk (O2.1/O2.2/O2.3 apart).
2. Per factor: aligned arrows (up, up) or (down, down) conjecture an increase; opposed arrows a decrease.
3. If every common factor agrees, that is the conjecture (``unanimous``).
4. Otherwise the active factors O1, O2, O3 dominate (``dominant``); if they disagree too, ``ambiguous``.
5. Factors only one side has are reported as non-common, to be checked empirically.

The guideline reads the SoK's arrows as printed, including the moderator arrows the graph method skips.
"""

from __future__ import annotations

from interplay.interactions.graph import build_graph
from interplay.interactions.paths import PathEdge, SignedPath
from interplay.interactions.prediction import Prediction, make_prediction
from interplay.interactions.signs import Sign, product
from interplay.kb import KB

_ARROW: dict[str, Sign] = {"up": "+", "down": "-"}


def _table2(g, node: str, role: str, outgoing: bool) -> dict[str, tuple]:
    edges = g.out_edges(node, keys=True, data=True) if outgoing else g.in_edges(node, keys=True, data=True)
    return {(v if outgoing else u): (u, v, k, d) for u, v, k, d in edges if d["role"] == role and d["edge"].sok_arrow}


def _path_edge(u, v, k, d) -> PathEdge:
    evidence = tuple({"ref": ev.ref, "locator": ev.locator, "kind": ev.kind} for ev in d["evidence"])
    sign = "increases" if d["edge"].sok_arrow == "up" else "decreases"
    return PathEdge(k, u, v, sign, d["weight"], evidence)


def guideline(kb: KB, defense: str, risk: str, ctx: dict, excluded: frozenset[str]) -> Prediction:
    g = build_graph(kb, ctx, excluded, include_moderators=True)
    dside = _table2(g, defense, "defense-factor", outgoing=True)
    rside = _table2(g, risk, "risk-factor", outgoing=False)
    common = [f for f in dside if f in rside]
    paths = []
    for f in common:
        a, b = dside[f], rside[f]
        sign = product(_ARROW[a[3]["edge"].sok_arrow], _ARROW[b[3]["edge"].sok_arrow])
        paths.append(
            SignedPath((_path_edge(*a), _path_edge(*b)), sign, a[3]["weight"] * b[3]["weight"], kb.factors[f].active)
        )
    signs = {p.sign for p in paths}
    active = {p.sign for p in paths if p.active}
    if not paths:
        sign, how = "?", "no-path"
    elif len(signs) == 1:
        sign, how = signs.pop(), "unanimous"
    elif len(active) == 1:
        sign, how = active.pop(), "dominant"
    else:
        sign, how = "?", "conflict"
    agree = [p for p in paths if p.sign == sign]
    conf = len(agree) / len(paths) if paths and sign in "+-" else 0.0
    pred = make_prediction(defense, risk, "guideline", sign, how, conf, paths, ctx)
    non_common = sorted((set(dside) | set(rside)) - set(common))
    codes = lambda ids: ", ".join(kb.factors[i].code or i for i in ids)  # noqa: E731
    pred.notes.append(f"common factors: {codes(common) or 'none'}")
    if non_common:
        pred.notes.append(f"non-common factors to check empirically: {codes(non_common)}")
    return pred
