"""The mechanism graph (networkx) built from the KB: nodes are entities, edges the signed mechanism edges.

A *view* of the graph is what a traversal may use: edges whose conditions hold in the context, evidence
items whose conditions hold, and nothing supported only by excluded references (leave-one-paper-out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import networkx as nx

from interplay.errors import UsageError
from interplay.interactions.validated import CONTRADICTED_FACTOR, marked_weight
from interplay.kb import KB
from interplay.kb.schema import Edge, Evidence, Factor

# How much one evidence item of each kind supports an edge; items combine by noisy-OR.
KIND_WEIGHT = {"empirical": 0.7, "theoretical": 0.6, "conjectured": 0.3}
EVIDENCE = ("all", "literature", "measured")  # what supports a defense's edges (see :mod:`.validated`)


class ContextError(UsageError, ValueError):
    """A context key or value the KB does not know."""


def full_context(kb: KB, context: dict[str, str] | None) -> dict[str, str]:
    """Fill the KB's defaults into ``context`` and reject unknown keys or values."""
    ctx = {k: c.default for k, c in kb.contexts.items()}
    for key, value in (context or {}).items():
        if key not in kb.contexts:
            raise ContextError(f"unknown context key {key!r}; known keys: {', '.join(kb.contexts)}")
        allowed = kb.contexts[key].values
        if str(value).lower() not in allowed:
            raise ContextError(f"context {key} must be one of {', '.join(allowed)}, not {value!r}")
        ctx[key] = str(value).lower()
    return ctx


def _holds(conditions: dict[str, str], ctx: dict[str, str]) -> bool:
    return all(ctx.get(k) == v for k, v in conditions.items())


def edge_weight(evidence: Iterable[Evidence]) -> float:
    miss = 1.0
    for ev in evidence:
        miss *= 1.0 - KIND_WEIGHT[ev.kind]
    return 1.0 - miss


def usable_evidence(edge: Edge, ctx: dict[str, str], excluded_refs: frozenset[str]) -> list[Evidence]:
    return [ev for ev in edge.evidence if ev.ref not in excluded_refs and _holds(ev.conditions, ctx)]


def build_graph(
    kb: KB,
    context: dict[str, str] | None = None,
    excluded_refs: Iterable[str] = (),
    include_moderators: bool = False,
    marks: Mapping[str, str] | None = None,
    measured: Mapping[str, str] | None = None,
    evidence: str = "all",
) -> nx.MultiDiGraph:
    """The graph of every KB entity and every edge usable under ``context``.

    Node attributes: ``kind``, ``name``, ``code``, ``active`` (and ``group`` for factors). Edge key: the edge id;
    attributes: ``sign`` (word), ``role``, ``interpretation``, ``weight``, ``edge`` (the KB object),
    ``evidence`` (the usable items), ``mark`` and ``measured``. Moderator edges are only included on request.
    ``marks``: sweep marks by edge id (``confirmed``/``contradicted``, see :mod:`.validated`) that scale the edges'
    weights. ``measured``: measured-here marks on defense -> factor edges, read under ``evidence`` ``all``
    (beside the literature) or ``measured`` (instead of it, on a defense's edges only); never on other edges.
    """
    if evidence not in EVIDENCE:
        raise ContextError(f"unknown evidence {evidence!r}; choose from {', '.join(EVIDENCE)}")
    marks = marks or {}
    ctx = full_context(kb, context)
    excluded = frozenset(excluded_refs)
    g = nx.MultiDiGraph(context=ctx)
    for ent in kb.entities():
        kind = kb.kind_of(ent.id)
        attrs = {"kind": kind, "name": ent.name, "code": ent.code or "", "active": bool(getattr(ent, "active", False))}
        if kind == "factor":
            attrs["group"] = cast(Factor, ent).group
        g.add_node(ent.id, **attrs)
    for e in kb.edges:
        if e.interpretation == "moderator" and not include_moderators:
            continue
        if not _holds(e.conditions, ctx):
            continue
        items = usable_evidence(e, ctx, excluded)
        from_defense = e.source in kb.defenses
        measure = (measured or {}).get(e.id, "") if from_defense and evidence != "literature" else ""
        if from_defense and evidence == "measured":
            items = []
        if not items and measure != "confirmed":
            continue
        weight = edge_weight(items)
        if measure == "confirmed":
            weight = 1.0 - (1.0 - weight) * (1.0 - KIND_WEIGHT["empirical"])
        elif measure == "contradicted":
            weight *= CONTRADICTED_FACTOR
        g.add_edge(
            e.source,
            e.target,
            key=e.id,
            sign=e.sign,
            role=e.role,
            interpretation=e.interpretation,
            weight=marked_weight(weight, marks.get(e.id)),
            edge=e,
            evidence=items,
            mark=marks.get(e.id, ""),
            measured=measure,
        )
    return g
