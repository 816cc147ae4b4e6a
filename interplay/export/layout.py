"""Layered layout for the writers that place nodes themselves (TikZ, matplotlib).

Columns: defenses | factors | mediators and mechanism nodes | risks (the model's ``layer``). Within a column,
nodes are ordered by a few barycentre sweeps (the median position of their neighbours) to reduce crossings.
"""

from __future__ import annotations

from statistics import mean

from interplay.export.model import ExportModel


def columns(model: ExportModel, sweeps: int = 4) -> list[list[str]]:
    cols: list[list[str]] = [[] for _ in range(4)]
    for n in model.nodes.values():
        cols[n.layer].append(n.id)
    cols = [c for c in cols if c]
    nbrs: dict[str, set[str]] = {n: set() for n in model.nodes}
    for e in model.edges:
        nbrs[e.source].add(e.target)
        nbrs[e.target].add(e.source)
    for _ in range(sweeps):
        for order in (range(1, len(cols)), range(len(cols) - 2, -1, -1)):
            for i in order:
                pos = {n: j / max(len(c) - 1, 1) for c in cols for j, n in enumerate(c)}
                keep = {n: j / max(len(cols[i]) - 1, 1) for j, n in enumerate(cols[i])}
                cols[i].sort(key=lambda n: mean([pos[m] for m in nbrs[n] if m not in keep] or [keep[n]]))
    return cols


def positions(model: ExportModel, dx: float = 1.0, dy: float = 1.0) -> dict[str, tuple[float, float]]:
    """``id -> (x, y)``: columns ``dx`` apart, each column centred vertically, ``dy`` between nodes."""
    cols = columns(model)
    tallest = max((len(c) for c in cols), default=1)
    out = {}
    for i, col in enumerate(cols):
        step = dy * (tallest - 1) / max(len(col) - 1, 1) if len(col) > 1 else 0.0
        step = min(step, dy * 1.6)
        top = (len(col) - 1) * step / 2
        for j, n in enumerate(col):
            out[n] = (i * dx, top - j * step)
    return out
