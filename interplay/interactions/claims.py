"""What the KB claims about a factor's effect on a risk: the sign a factor sweep tests, and the edges behind it."""

from __future__ import annotations

from interplay.interactions.graph import build_graph
from interplay.interactions.paths import signed_paths
from interplay.interactions.signs import FROM_WORD, Sign, total
from interplay.kb import KB


def claimed_edges(kb: KB, factor_node: str, risk: str) -> tuple[Sign, list[str]]:
    """The KB's claimed sign of factor -> risk and the edges a sweep tests: the direct edge if there is one,
    else every edge of the paths whose sign is the claimed sum (empty when the sum is ``?`` or absent)."""
    g = build_graph(kb)
    direct = [k for _, v, k in g.out_edges(factor_node, keys=True) if v == risk]
    if direct:
        sign = FROM_WORD[g.edges[factor_node, risk, direct[0]]["sign"]]
        return sign, direct
    paths = signed_paths(g, factor_node, risk)
    sign = total(p.sign for p in paths)
    if sign not in "+-":
        return sign, []
    return sign, sorted({e.id for p in paths if p.sign == sign for e in p.edges})
