"""Graphviz: the DOT source of the layered graph, and its rendering to SVG/PDF/PNG with the ``dot`` program.

Layers: defenses are pinned to the first rank and risks to the last (``rankdir=LR``); Graphviz ranks the
factors, mediators and mechanism nodes between them. Styles follow :mod:`interplay.export.style`.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

from interplay.export import escape
from interplay.export.model import EdgeItem, ExportError, ExportModel, NodeItem
from interplay.export.style import LEGEND_LINES, NODE_FILL, SIGN_COLOR, edge_color

ARROWHEAD = {"increases": "normal", "decreases": "tee", "none": "odot", "mixed": "diamond"}
LINE = {"empirical": "solid", "theoretical": "dashed", "conjectured": "dotted"}
SHAPE = {"defense": "box", "risk": "box", "factor": "box", "mediator": "hexagon", "mechanism": "octagon"}
INSTALL_HINT = (
    "Graphviz's `dot` program is not installed; install Graphviz (Debian/Ubuntu: apt-get install graphviz; "
    "Fedora: dnf install graphviz; macOS: brew install graphviz; conda: conda install -c conda-forge graphviz)"
)


def _q(text: object) -> str:
    return f'"{escape.dot(text)}"'


def _node(n: NodeItem) -> str:
    label = "\\n".join(escape.dot(line) for line in textwrap.wrap(n.name, 26)) or escape.dot(n.id)
    label += f"\\n({escape.dot(n.code)})" if n.code else ""
    style = "rounded,filled" if n.kind in ("defense", "risk") else "filled"
    attrs = {
        "label": f'"{label}"',
        "shape": SHAPE[n.kind],
        "style": f'"{style}"',
        "fillcolor": _q(NODE_FILL[n.kind]),
        "tooltip": _q(f"{n.kind} {n.id}: {n.description}"),
    }
    if n.active:
        attrs["penwidth"] = "2"
    return f"  {_q(n.id)} [{', '.join(f'{k}={v}' for k, v in attrs.items())}];"


def _edge(e: EdgeItem) -> str:
    refs = ", ".join(e.refs)
    tip = f"{e.id}: {e.sign} ({e.interpretation}); evidence: {refs}" + (f"; note: {e.note}" if e.note else "")
    attrs = {
        "color": _q(edge_color(e.sign, e.moderator)),
        "style": LINE[e.strongest],
        "arrowhead": ARROWHEAD[e.sign],
        "penwidth": "0.8" if e.moderator else "1.4",
        "tooltip": _q(tip),
        "id": _q(e.id),
    }
    if e.conditions:
        attrs.update(label=_q(e.condition_text), fontsize="9", fontcolor=_q(SIGN_COLOR[e.sign]))
    return f"  {_q(e.source)} -> {_q(e.target)} [{', '.join(f'{k}={v}' for k, v in attrs.items())}];"


def _legend() -> str:
    c = SIGN_COLOR
    first = (
        f'<font color="{c["increases"]}">increases (arrow)</font>, <font color="{c["decreases"]}">decreases (bar)'
        f'</font>, <font color="{c["none"]}">none (circle)</font>, <font color="{c["mixed"]}">mixed (diamond)</font>'
    )
    rows = [f"Colour and arrowhead = sign: {first}.", *(escape.xml(line) for line in LEGEND_LINES[1:])]
    return "<" + "".join(f'{row}<br align="left"/>' for row in rows) + ">"


def render(model: ExportModel) -> str:
    lines = [
        "// Written by interplay (interplay export dot). Render: dot -Tsvg graph.dot -o graph.svg",
        "digraph interplay {",
        '  graph [rankdir=LR, ranksep=1.1, nodesep=0.18, fontname="Helvetica", fontsize=11, labelloc=b, '
        f"labeljust=l, label={_legend()}];",
        '  node [fontname="Helvetica", fontsize=11, margin="0.12,0.05"];',
        '  edge [arrowsize=0.7, fontname="Helvetica"];',
    ]
    by_layer: dict[int, list[NodeItem]] = {}
    for n in model.nodes.values():
        by_layer.setdefault(n.layer, []).append(n)
    for layer, rank in ((0, "source"), (3, "sink")):
        if by_layer.get(layer):
            lines.append(f"  {{ rank={rank};")
            lines += ["  " + _node(n) for n in by_layer[layer]]
            lines.append("  }")
    for layer in (1, 2):
        lines += [_node(n) for n in by_layer.get(layer, [])]
    lines += [_edge(e) for e in model.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def available() -> bool:
    return shutil.which("dot") is not None


def render_file(source: str, path: Path, fmt: str, timeout: float = 60) -> None:
    """Run ``dot -T<fmt>`` on ``source`` and write ``path``; raise ExportError when it cannot."""
    exe = shutil.which("dot")
    if exe is None:
        raise ExportError(INSTALL_HINT)
    proc = subprocess.run(
        [exe, f"-T{fmt}", "-o", str(path)], input=source.encode(), capture_output=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise ExportError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()}")
