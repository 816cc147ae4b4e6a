"""TikZ: the layered graph as a ``tikzpicture`` (a fragment to ``\\input``, or ``standalone`` a document that
compiles with pdflatex). Positions come from :mod:`interplay.export.layout`, styles from
:mod:`interplay.export.style`. Needs ``\\usepackage{tikz}`` and ``\\usetikzlibrary{arrows.meta,shapes.misc}``.
"""

from __future__ import annotations

from interplay.export.escape import latex as esc
from interplay.export.layout import positions
from interplay.export.model import EdgeItem, ExportModel
from interplay.export.style import MODERATOR_COLOR, NODE_FILL, SIGN_COLOR

DX, DY = 5.6, 1.35
SIGN_STYLE = {"increases": "ipinc", "decreases": "ipdec", "none": "ipnone", "mixed": "ipmixed"}
LINE_STYLE = {"empirical": "ipemp", "theoretical": "ipthe", "conjectured": "ipcon"}
COLOR_NAME = {"increases": "ipInc", "decreases": "ipDec", "none": "ipNone", "mixed": "ipMixed"}


def _colors() -> str:
    out = [rf"\providecolor{{{COLOR_NAME[s]}}}{{HTML}}{{{c[1:]}}}" for s, c in SIGN_COLOR.items()]
    out.append(rf"\providecolor{{ipMod}}{{HTML}}{{{MODERATOR_COLOR[1:]}}}")
    out += [rf"\providecolor{{ipFill{k}}}{{HTML}}{{{c[1:]}}}" for k, c in NODE_FILL.items()]
    return "\n".join(out) + "\n"


STYLES = r"""  ipnode/.style={draw=black!60, align=center, text width=3.8cm, font=\scriptsize, inner sep=2pt,
    minimum height=5mm},
  ipdefense/.style={ipnode, rounded corners=3pt, fill=ipFilldefense},
  iprisk/.style={ipnode, rounded corners=3pt, fill=ipFillrisk},
  ipfactor/.style={ipnode, fill=ipFillfactor},
  ipmediator/.style={ipnode, fill=ipFillmediator, chamfered rectangle},
  ipmechanism/.style={ipnode, fill=ipFillmechanism, double},
  ipactive/.style={line width=1.2pt},
  ipedge/.style={line width=0.7pt, shorten >=1pt},
  ipinc/.style={ipedge, draw=ipInc, -{Latex[length=2mm]}},
  ipdec/.style={ipedge, draw=ipDec, -{Bar[width=2.6mm]}},
  ipnone/.style={ipedge, draw=ipNone, -{Circle[open, length=1.8mm]}},
  ipmixed/.style={ipedge, draw=ipMixed, -{Diamond[length=2.2mm]}},
  ipemp/.style={solid},
  ipthe/.style={dashed},
  ipcon/.style={dotted, line width=0.9pt},
  ipmod/.style={draw=ipMod, line width=0.4pt},
  iplabel/.style={font=\tiny, midway, sloped, above, inner sep=1pt, fill=white, fill opacity=0.8, text opacity=1},
"""


def _edge(e: EdgeItem, ids: dict[str, str]) -> str:
    styles = [SIGN_STYLE[e.sign], LINE_STYLE[e.strongest]] + (["ipmod"] if e.moderator else [])
    label = rf" node[iplabel] {{{esc(e.condition_text)}}}" if e.conditions else ""
    return rf"\draw[{', '.join(styles)}] ({ids[e.source]}) --{label} ({ids[e.target]}); % {esc(e.id)}"


def picture(model: ExportModel) -> tuple[str, float, float]:
    """The tikzpicture and its extent (width, height) in cm."""
    pos = positions(model, DX, DY)
    ids = {n: f"n{i}" for i, n in enumerate(model.nodes)}
    lines = [r"\begin{tikzpicture}[", STYLES + "]"]
    for n in model.nodes.values():
        x, y = pos[n.id]
        style = f"ip{n.kind}" + (", ipactive" if n.active else "")
        text = esc(n.name) + (rf"\\({esc(n.code)})" if n.code else "")
        lines.append(rf"\node[{style}] ({ids[n.id]}) at ({x:.2f},{y:.2f}) {{{text}}}; % {esc(n.id)}")
    lines += [_edge(e, ids) for e in model.edges]
    ys = [y for _, y in pos.values()] or [0.0]
    width = (max(x for x, _ in pos.values()) if pos else 0) + 3.6
    legend_y = min(ys) - 1.0
    samples = [
        ("ipinc", "increases"), ("ipdec", "decreases"), ("ipnone", "none"), ("ipmixed", "mixed"),
        ("ipinc, ipemp", "empirical"), ("ipinc, ipthe", "theoretical"), ("ipinc, ipcon", "conjectured"),
        ("ipinc, ipmod", "moderator (not traversed)"),
    ]  # fmt: skip
    for i, (style, text) in enumerate(samples):
        x = -1.6 + (i % 4) * DX * 0.75
        y = legend_y - (i // 4) * 0.5
        lines.append(rf"\draw[{style}] ({x:.2f},{y:.2f}) -- ++(0.9,0) node[right, font=\scriptsize, black] {{{text}}};")
    lines.append(
        rf"\node[anchor=north west, font=\scriptsize, text width={width:.1f}cm] at (-1.6,{legend_y - 0.8:.2f}) "
        r"{Colour and arrowhead: the edge's sign. Line style: its strongest evidence. Labelled edges hold only in "
        r"the named context.};"
    )
    lines.append(r"\end{tikzpicture}")
    height = max(ys) - min(ys) + 4.0
    return "\n".join(lines) + "\n", width + 1.0, height


def render(model: ExportModel, standalone: bool = False) -> str:
    pic, width, height = picture(model)
    head = (
        "% Written by interplay (interplay export tikz). Every string from the knowledge base is escaped.\n"
        "% Needs: \\usepackage{tikz} \\usetikzlibrary{arrows.meta,shapes.misc}\n"
    )
    body = head + _colors() + pic
    if not standalone:
        return body
    return (
        "\\documentclass{article}\n"
        f"\\usepackage[paperwidth={width + 1.5:.1f}cm,paperheight={height + 1.0:.1f}cm,margin=0.5cm]{{geometry}}\n"
        "\\usepackage{tikz}\n\\usetikzlibrary{arrows.meta,shapes.misc}\n\\pagestyle{empty}\n"
        "\\begin{document}\n\\noindent\n" + body + "\\end{document}\n"
    )
