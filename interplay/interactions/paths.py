"""Signed paths from a defense to a risk, with the evidence behind each edge."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from interplay.interactions.signs import FROM_WORD, Sign, path_sign

MAX_EDGES = 5


@dataclass(frozen=True)
class PathEdge:
    id: str
    source: str
    target: str
    sign: str
    weight: float
    evidence: tuple[dict, ...]
    mark: str = ""  # confirmed | contradicted by factor sweeps (see .validated), "" when unswept
    measured: str = ""  # confirmed | contradicted by a factor measurement (defense edges only), "" when unmeasured

    def to_dict(self) -> dict:
        doc = {
            "id": self.id,
            "source": self.source,
            "target": self.target,
            "sign": self.sign,
            "weight": round(self.weight, 3),
            "evidence": list(self.evidence),
        }
        extra = {"sweep": self.mark, "measured": self.measured}
        return doc | {k: v for k, v in extra.items() if v}


@dataclass(frozen=True)
class SignedPath:
    """A signed path; ``active``: its last node before the risk is an active factor or mechanism."""

    edges: tuple[PathEdge, ...]
    sign: Sign
    weight: float
    active: bool
    contextual: bool = False

    @property
    def nodes(self) -> list[str]:
        return [self.edges[0].source, *(e.target for e in self.edges)]

    @property
    def references(self) -> set[str]:
        return {ev["ref"] for e in self.edges for ev in e.evidence}

    def to_dict(self, role: str) -> dict:
        return {
            "nodes": self.nodes,
            "sign": self.sign,
            "weight": round(self.weight, 3),
            "active": self.active,
            "contextual": self.contextual,
            "role": role,
            "edges": [e.to_dict() for e in self.edges],
        }


def path_edge(g: nx.MultiDiGraph, u: str, v: str, key: str) -> PathEdge:
    d = g.edges[u, v, key]
    evidence = tuple(
        ev.model_dump(exclude_none=True, exclude_defaults=True) | {"kind": ev.kind} for ev in d["evidence"]
    )
    return PathEdge(key, u, v, d["sign"], d["weight"], evidence, d.get("mark", ""), d.get("measured", ""))


def signed_paths(g: nx.MultiDiGraph, defense: str, risk: str, max_edges: int = MAX_EDGES) -> list[SignedPath]:
    """Every directed simple path defense -> risk whose inner nodes are factors, mediators or mechanisms."""
    inner = [n for n, k in g.nodes(data="kind") if k not in ("defense", "risk")]
    sub = g.subgraph([defense, risk, *inner])
    paths = []
    for edge_path in nx.all_simple_edge_paths(sub, defense, risk, cutoff=max_edges):
        edges = tuple(path_edge(g, u, v, k) for u, v, k in edge_path)
        weight = 1.0
        for e in edges:
            weight *= e.weight
        active = len(edges) > 1 and g.nodes[edges[-1].source]["active"]
        contextual = any(g.edges[u, v, k]["edge"].conditions for u, v, k in edge_path)
        paths.append(SignedPath(edges, path_sign(FROM_WORD[e.sign] for e in edges), weight, active, contextual))
    paths.sort(key=lambda p: (-p.weight, len(p.edges)))
    return paths
