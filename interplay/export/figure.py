"""The layered graph drawn with matplotlib: the SVG/PDF fallback when Graphviz is not installed.

Same columns as TikZ (:mod:`interplay.export.layout`) and the same styles (:mod:`interplay.export.style`).
Uses an explicit ``Figure`` (no pyplot state), so it works headless.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from interplay.export import escape
from interplay.export.layout import positions
from interplay.export.model import ExportModel
from interplay.export.style import LEGEND_LINES, MODERATOR_COLOR, NODE_FILL, SIGN_COLOR, edge_color

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType

LINESTYLE: dict[str, LineStyleType] = {"empirical": "solid", "theoretical": (0, (5, 3)), "conjectured": (0, (1, 2.5))}
ARROWSTYLE = {"increases": "-|>", "decreases": "-[", "none": "-", "mixed": "-|>"}


def draw(model: ExportModel, path: Path, fmt: str) -> None:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    pos = positions(model, dx=4.0, dy=1.0)
    height = max((y for _, y in pos.values()), default=0) - min((y for _, y in pos.values()), default=0)
    fig = Figure(figsize=(16, max(6.0, 0.62 * height + 3)))
    ax = fig.add_axes((0.01, 0.1, 0.98, 0.89))
    ax.set_axis_off()
    texts = {}
    for n in model.nodes.values():
        x, y = pos[n.id]
        lines = [*textwrap.wrap(n.name, 24), *([f"({n.code})"] if n.code else [])]
        label = "\n".join(escape.matplotlib(line) for line in lines)
        box = {"boxstyle": "round,pad=0.3", "fc": NODE_FILL[n.kind], "ec": "black", "lw": 1.8 if n.active else 0.7}
        texts[n.id] = ax.text(x, y, label, ha="center", va="center", fontsize=7, bbox=box, zorder=3)
    for e in model.edges:
        color = edge_color(e.sign, e.moderator)
        arrow = FancyArrowPatch(
            pos[e.source], pos[e.target], arrowstyle=ARROWSTYLE[e.sign], mutation_scale=9, color=color,
            linestyle=LINESTYLE[e.strongest], linewidth=0.6 if e.moderator else 1.1,
            patchA=texts[e.source].get_bbox_patch(), patchB=texts[e.target].get_bbox_patch(),
            connectionstyle="arc3,rad=0.04", zorder=2,
        )  # fmt: skip
        ax.add_patch(arrow)
        if e.conditions:
            (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, escape.matplotlib(e.condition_text), fontsize=5.5, color=color,
                    ha="center", va="bottom", zorder=4)  # fmt: skip
    xs = [x for x, _ in pos.values()] or [0]
    ys = [y for _, y in pos.values()] or [0]
    ax.set_xlim(min(xs) - 1.4, max(xs) + 1.4)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    handles = [Line2D([], [], color=c, lw=1.5, label=f"{s}") for s, c in SIGN_COLOR.items()]
    handles += [Line2D([], [], color="black", lw=1.2, linestyle=LINESTYLE[k], label=k) for k in LINESTYLE]
    handles.append(Line2D([], [], color=MODERATOR_COLOR, lw=0.8, label="moderator (not traversed)"))
    fig.legend(handles=handles, loc="lower center", ncol=8, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.03))
    legend = ["Colour = sign; arrowhead: triangle increases or mixed, bar decreases, none for none.", *LEGEND_LINES[1:]]
    fig.text(0.5, 0.01, escape.matplotlib(" ".join(legend)), ha="center", fontsize=6.5)
    fig.savefig(path, format=fmt, bbox_inches="tight")
