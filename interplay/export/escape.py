"""Escaping of KB strings for every text format the exporters write.

KB text is data, never markup: a note holding ``\\input{/etc/passwd}``, ``%``, ``&``, ``_`` or ``<script>``
must come out as those characters, not as commands. CSV, JSON, GraphML and GEXF are quoted by their
writers (``csv``, ``json``, the XML serializer); the functions here cover the formats we write by hand, BibTeX
values and URLs, and CSV cells that a spreadsheet would run as formulas.
"""

from __future__ import annotations

import re
from urllib.parse import quote

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
    return _tex(text, _LATEX)


def _tex(text: object, table: dict[str, str]) -> str:
    out = []
    for ch in str(text):
        if ch in table:
            out.append(table[ch])
        elif ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) < 32:
            continue
        elif ord(ch) > 0x7F and not 0xC0 <= ord(ch) <= 0xFF:
            out.append("?")  # outside what pdflatex's default OT1 fonts can typeset (accented letters can)
        else:
            out.append(ch)
    return "".join(out)


# BibTeX counts every brace, escaped or not: ``\}`` closes a field. Braces that pair up inside one string stay
# ``\{``/``\}``; the others become brace-free commands. ``@`` (an entry start to lenient parsers) is ``\char64``.
_BIBTEX_UNPAIRED = {**_LATEX, "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "@": r"{\char64}"}
_BIBTEX_PAIRED = {**_BIBTEX_UNPAIRED, "{": r"\{", "}": r"\}"}


def bibtex(text: object) -> str:
    """Escape for a brace-delimited BibTeX value: LaTeX escaping whose braces always balance for BibTeX."""
    s, stack, paired = str(text), [], set()
    for i, ch in enumerate(s):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            paired |= {stack.pop(), i}
    return "".join(_tex(ch, _BIBTEX_PAIRED if i in paired else _BIBTEX_UNPAIRED) for i, ch in enumerate(s))


def url(text: object) -> str:
    """A URL to write raw inside ``\\url{}``: no fragment (``#``), no braces, backslashes, ``^``, ``@``, quotes,
    spaces or control characters (all percent-encoded); a ``%`` that starts no ``%XX`` escape becomes ``%25``."""
    s = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", str(text).split("#", 1)[0].strip())
    return quote(s, safe="-._~:/?[]!$&'()*+,;=%")


def dot(text: object) -> str:
    """Escape for the inside of a Graphviz double-quoted string (labels, tooltips)."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return re.sub(r"[\r\n\t]+", " ", s)


def xml(text: object) -> str:
    """Escape for XML/HTML text and attribute values (Graphviz HTML-like labels too)."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace('"', "&quot;").replace("'", "&#39;")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", s)


# Everything that could close a label (quotes, brackets, pipes, ``-->``) or start a directive/comment (``%%``).
_MERMAID_ENTITY = {ch: f"#{ord(ch)};" for ch in '"#&<>|`\\%[](){};'}


def mermaid(text: object) -> str:
    """Escape for a double-quoted Mermaid label: markup characters become Mermaid entity codes (``#60;``)."""
    s = re.sub(r"[\x00-\x08\x0e-\x1b\x7f]", "", re.sub(r"\s+", " ", str(text)))
    s = "".join(_MERMAID_ENTITY.get(ch, ch) for ch in s)
    return s.replace("--", "-#45;")  # no arrow (``-->``, ``---``) in a label


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def spreadsheet(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula (OWASP: ``= + - @``, tab, CR)
    gets a leading ``'``, unless it is a plain number (``-0.12``); non-strings are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def matplotlib(text: object) -> str:
    """Escape for a matplotlib text artist: ``$`` would start mathtext."""
    return re.sub(r"\s+", " ", str(text)).replace("$", r"\$")
