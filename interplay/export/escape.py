"""Escaping of KB strings for every text format the exporters write.

KB text is data, never markup: a note holding ``\\input{/etc/passwd}``, ``%``, ``&``, ``_`` or ``<script>``
must come out as those characters, not as commands. CSV, JSON, GraphML and GEXF are escaped by their
writers (``csv``, ``json``, the XML serializer); the functions here cover the formats we write by hand.
"""

from __future__ import annotations

import re

_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': "''",
    # Characters pdflatex's default UTF-8 input and OT1 fonts do not know; accented Latin-1 letters they do.
    "\u2192": r"$\rightarrow$",
    "\u2190": r"$\leftarrow$",
    "\u2194": r"$\leftrightarrow$",
    "\u2191": r"$\uparrow$",
    "\u2193": r"$\downarrow$",
    "\u2264": r"$\leq$",
    "\u2265": r"$\geq$",
    "\u2248": r"$\approx$",
    "\u00d7": r"$\times$",
    "\u00b1": r"$\pm$",
    "\u221e": r"$\infty$",
    "\u2212": r"$-$",
    "\u03b5": r"$\varepsilon$",
    "\u03b4": r"$\delta$",
    "\u2013": "--",
    "\u2014": "---",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\ldots{}",
    "\u00a0": "~",
}


def latex(text: object) -> str:
    """Escape ``text`` for LaTeX (pdflatex, T1/UTF-8): every special character becomes a literal."""
    out = []
    for ch in str(text):
        if ch in _LATEX:
            out.append(_LATEX[ch])
        elif ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) < 32:
            continue
        elif ord(ch) > 0x7F and not 0xC0 <= ord(ch) <= 0xFF:
            out.append("?")  # outside what pdflatex's default OT1 fonts can typeset (accented letters can)
        else:
            out.append(ch)
    return "".join(out)


def dot(text: object) -> str:
    """Escape for the inside of a Graphviz double-quoted string (labels, tooltips)."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return re.sub(r"[\r\n\t]+", " ", s)


def xml(text: object) -> str:
    """Escape for XML/HTML text and attribute values (Graphviz HTML-like labels too)."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace('"', "&quot;").replace("'", "&#39;")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", s)


_MERMAID_ENTITY = {ch: f"#{ord(ch)};" for ch in '"#&<>|`\\'}


def mermaid(text: object) -> str:
    """Escape for a double-quoted Mermaid label: markup characters become Mermaid entity codes (``#60;``)."""
    s = "".join(_MERMAID_ENTITY.get(ch, ch) for ch in str(text))
    return re.sub(r"\s+", " ", s)


def matplotlib(text: object) -> str:
    """Escape for a matplotlib text artist: ``$`` would start mathtext."""
    return re.sub(r"\s+", " ", str(text)).replace("$", r"\$")
