"""The visual vocabulary every graph writer shares (DOT, TikZ, Mermaid, matplotlib).

* colour = sign: increases vermillion, decreases bluish green, none grey, mixed purple (Okabe-Ito,
  colour-blind safe); the arrowhead repeats the sign: arrow (increases), bar (decreases), open circle (none),
  diamond (mixed), so the figure also reads in greyscale;
* line style = the strongest evidence kind behind the edge: empirical solid, theoretical dashed,
  conjectured dotted;
* moderator edges (Table 2 correlations that say when a defense works; the graph method does not traverse
  them) are drawn thin and light grey, keeping their sign's arrowhead and their evidence line style;
* context-conditional edges carry a label naming their condition (e.g. ``adversary=malicious-suspect``).
"""

from __future__ import annotations

SIGN_COLOR = {"increases": "#D55E00", "decreases": "#009E73", "none": "#777777", "mixed": "#CC79A7"}
SIGN_SYMBOL = {"increases": "+", "decreases": "\u2212", "none": "0", "mixed": "?"}
MODERATOR_COLOR = "#B0B0B0"
EVIDENCE_STYLES = ("empirical", "theoretical", "conjectured")

NODE_FILL = {
    "defense": "#D6E6F5",
    "factor": "#FFF3C4",
    "mediator": "#E9DAF1",
    "mechanism": "#E6E6E6",
    "risk": "#F8D7D0",
}
KIND_TITLE = {"defense": "Defenses", "factor": "Factors", "mediator": "Mediators", "mechanism": "Mechanisms",
              "risk": "Risks"}  # fmt: skip

LEGEND_LINES = (
    "Colour and arrowhead = sign: increases (arrow), decreases (bar), none (circle), mixed (diamond).",
    "Line = strongest evidence: empirical solid, theoretical dashed, conjectured dotted.",
    "Thin light grey = moderator (Table 2 correlation, not traversed by the graph method).",
    "Labelled edges hold only in the named context.",
)


def edge_color(sign: str, moderator: bool) -> str:
    return MODERATOR_COLOR if moderator else SIGN_COLOR[sign]
