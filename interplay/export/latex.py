"""LaTeX: the defense x risk matrix in the style of the SoK's Table 3, a per-cell explanation table and the
evidence table of the mechanism edges.

Without ``standalone`` the output is a fragment to ``\\input`` (its packages are listed in a comment at its
top; its macros are ``\\providecommand``-ed so a paper can restyle them). With ``standalone`` it is a complete
document that compiles with pdflatex, its bibliography embedded (``filecontents``) so that
``pdflatex; bibtex; pdflatex; pdflatex`` resolves every ``\\cite``.

A matrix cell is built from slots, so a later result source only fills one in:
``<reported or predicted mark>[\\ipIntended][exceptions][\\ipCite{keys}][<validation mark>][\\ipLit{<mark>}]``,
the last the verdict under the literature setting (the validation mark is the generic setting's).
"""

from __future__ import annotations

from interplay.export import bibtex
from interplay.export.escape import latex as esc
from interplay.export.model import SOK_KEY, Cell, ExportModel
from interplay.export.numbers import decimal

PACKAGES = ("booktabs", "longtable", "array", "xcolor", "amssymb")
CATEGORY_ORDER = ("security", "privacy", "fairness")
BIB_NAME = "interplay-refs"
MAX_PATHS = 3

MACROS = r"""\providecolor{ipinc}{HTML}{D55E00}
\providecolor{ipdec}{HTML}{009E73}
\providecolor{ipmute}{HTML}{777777}
\providecommand{\ipInc}{\textcolor{ipinc}{$\boldsymbol{\uparrow}$}}
\providecommand{\ipDec}{\textcolor{ipdec}{$\boldsymbol{\downarrow}$}}
\providecommand{\ipNone}{\textcolor{ipmute}{$\circ$}}
\providecommand{\ipAmb}{\textcolor{ipmute}{$\updownarrow$}}
\providecommand{\ipUnk}{\textcolor{ipmute}{--}}
\providecommand{\ipPred}[1]{\textcolor{ipmute}{(}#1\textcolor{ipmute}{)}}
\providecommand{\ipConj}[1]{#1\textsuperscript{c}}
\providecommand{\ipIntended}{\textsuperscript{$\star$}}
\providecommand{\ipExc}[1]{\,/\,#1\textsuperscript{$\dagger$}}
\providecommand{\ipCite}[1]{\,{\scriptsize\cite{#1}}}
\providecommand{\ipConfirmed}{\textsuperscript{\textcolor{ipdec}{\checkmark}}}
\providecommand{\ipRefuted}{\textsuperscript{\textcolor{ipinc}{$\times$}}}
\providecommand{\ipInconclusive}{\textsuperscript{\textcolor{ipmute}{?}}}
\providecommand{\ipNotApplicable}{\textsuperscript{\textcolor{ipmute}{$\emptyset$}}}
\providecommand{\ipLit}[1]{\textsuperscript{\textcolor{ipmute}{L}}#1}
\providecommand{\ipcolwidth}{1.9cm}
\providecommand{\iprowwidth}{4.3cm}
"""
# \boldsymbol needs amsmath; fall back to a plain arrow if it is not loaded.
MACROS = r"\providecommand{\boldsymbol}[1]{#1}" + "\n" + MACROS

DIRECTION_MARK = {
    "increase": r"\ipInc",
    "decrease": r"\ipDec",
    "none": r"\ipNone",
    "mixed": r"\ipAmb",
    "ambiguous": r"\ipAmb",
    "unknown": r"\ipUnk",
}
VALIDATION_MARK = {
    "confirmed": r"\ipConfirmed",
    "refuted": r"\ipRefuted",
    "inconclusive": r"\ipInconclusive",
    "not-applicable": r"\ipNotApplicable",
}
SIGN_TEX = {"increases": "+", "decreases": "-", "none": "0", "mixed": "?"}


def _cite(keys: list[str]) -> str:
    return rf"\ipCite{{{','.join(keys)}}}" if keys else ""


def cell_tex(cell: Cell) -> str:
    """The content of one matrix cell (see the module docstring for its slots)."""
    obs, pred = cell.observation, cell.prediction
    parts: list[str] = []
    if cell.reported and obs is not None:  # reported implies an observation
        parts.append(DIRECTION_MARK[cell.reported])
        if obs.intended:
            parts.append(r"\ipIntended")
        parts.append(_cite(list(obs.refs)))
        for x in obs.exceptions:
            parts.append(rf"\ipExc{{{DIRECTION_MARK[x.direction]}}}" + _cite(list(x.refs)))
    elif obs is not None and obs.conjecture is not None:
        parts.append(rf"\ipConj{{{DIRECTION_MARK[obs.conjecture.direction]}}}" + _cite([SOK_KEY]))
        if pred is not None:
            parts.append(r"\," + rf"\ipPred{{{DIRECTION_MARK[pred.direction]}}}")
    elif pred is not None:
        parts.append(rf"\ipPred{{{DIRECTION_MARK[pred.direction]}}}")
    else:
        parts.append(r"\ipUnk")
    if cell.validation:
        parts.append(VALIDATION_MARK.get(cell.validation, ""))
    if cell.literature_validation:
        parts.append(rf"\ipLit{{{VALIDATION_MARK.get(cell.literature_validation, '')}}}")
    return "".join(parts)


def ordered_risks(model: ExportModel) -> list[tuple[str, list[str]]]:
    groups = [(cat, [r for r in model.risks if model.risk_categories[r] == cat]) for cat in CATEGORY_ORDER]
    others = [r for r in model.risks if model.risk_categories[r] not in CATEGORY_ORDER]
    return [(c, rs) for c, rs in groups if rs] + ([("other", others)] if others else [])


def matrix(model: ExportModel) -> str:
    groups = ordered_risks(model)
    risks = [r for _, rs in groups for r in rs]
    spec = r">{\raggedright\arraybackslash}p{\iprowwidth}" + r">{\centering\arraybackslash}p{\ipcolwidth}" * len(risks)
    lines = [
        r"\begin{table}[tbp]",
        r"\centering\small\renewcommand{\arraystretch}{1.2}",
        rf"\caption{{{_caption(model)}}}",
        r"\label{tab:interplay-matrix}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
    ]
    head, rules, col = [""], [], 2
    for cat, rs in groups:
        head.append(rf"\multicolumn{{{len(rs)}}}{{c}}{{\textbf{{{esc(cat.capitalize())}}}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + len(rs) - 1}}}")
        col += len(rs)
    lines += [" & ".join(head) + r" \\", "".join(rules)]
    codes = [r"\textbf{Defense}"] + [rf"\textbf{{{esc(model.node(r).short)}}}" for r in risks]
    lines += [" & ".join(codes) + r" \\", r"\midrule"]
    for d in model.defenses:
        row = [esc(model.node(d).label)] + [cell_tex(model.cell(d, r)) for r in risks]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines.append(r"\par\smallskip\parbox{\linewidth}{\footnotesize " + _legend(model, risks) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _caption(model: ExportModel) -> str:
    parts = []
    if "observations" in model.include:
        parts.append(rf"Reported interactions after Duddu et al.~\cite{{{SOK_KEY}}}, Table~3")
    if "predictions" in model.include:
        verb = "completed with" if parts else "Interactions"
        parts.append(rf"{verb} predictions of the \texttt{{{esc(model.method)}}} method of \textsf{{interplay}}")
    if not parts:
        parts.append("Defense $\\times$ risk matrix")
    return " ".join(parts) + "."


def _legend(model: ExportModel, risks: list[str]) -> str:
    bits = []
    if "observations" in model.include:
        bits.append(r"\ipInc/\ipDec: the defense increases/decreases the risk, as reported (references cited)")
        bits.append(r"\ipIntended: intended (the defense's target risk)")
        contexts = sorted(
            {", ".join(f"{k}={v}" for k, v in x.context.items()) for o in model.observations for x in o.exceptions}
        )
        if contexts:
            bits.append(r"$\dagger$: an exception reported under " + "; ".join(esc(c) for c in contexts if c))
        if any(o.conjecture for o in model.observations):
            bits.append(r"\ipConj{\ipInc}: conjectured and tested in the SoK's Sec.~5")
    if "predictions" in model.include:
        bits.append(
            rf"\ipPred{{\ipInc}}, \ipPred{{\ipDec}}, \ipPred{{\ipNone}}, \ipPred{{\ipAmb}}: predicted by "
            rf"\texttt{{{esc(model.method)}}} (increase, decrease, none, mixed or ambiguous) where the literature "
            r"reports nothing; \ipUnk: no causal path (guideline)"
        )
    if "validations" in model.include:
        if any(c.validation or c.literature_validation for c in model.cells):
            bits.append(r"\ipConfirmed/\ipRefuted/\ipInconclusive: prediction confirmed/refuted/inconclusive by "
                        r"an \textsf{interplay} experiment; \ipNotApplicable: not testable by it (the same model, "
                        r"and the attack reads nothing the defense adds)")  # fmt: skip
        if any(c.literature_validation for c in model.cells):
            bits.append(r"\ipLit{\ipConfirmed}: the verdict under the literature setting (the conditions the "
                        r"cell's papers state); the unmarked one is the generic setting's")  # fmt: skip
        else:
            bits.append("no validation results available")
    key = ", ".join(rf"{esc(model.node(r).short)}~{esc(model.node(r).name)}" for r in risks)
    bits.append("Risks: " + key)
    return ". ".join(bits) + "."


def _path_tex(model: ExportModel, path) -> str:
    out = esc(model.node(path.edges[0].source).short)
    for e in path.edges:
        out += rf" $\to^{{{SIGN_TEX[e.sign]}}}$ "
        out += esc(model.node(e.target).short)
    return out


def _longtable_head(cols: str, caption: str, label: str, head: str) -> list[str]:
    """The opening of a footnote-size longtable whose header row repeats on every page."""
    return [
        r"{\footnotesize",
        rf"\begin{{longtable}}{{{cols}}}",
        rf"\caption{{{caption}}}\label{{{label}}}\\",
        r"\toprule",
        head + r" \\",
        r"\midrule\endfirsthead",
        r"\toprule",
        head + r" \\",
        r"\midrule\endhead",
        r"\bottomrule\endfoot",
    ]


def explanations(model: ExportModel) -> str:
    """Per cell: the prediction, how it was resolved, its strongest paths and the evidence behind them."""
    cols = (
        r">{\raggedright\arraybackslash}p{3.6cm}>{\raggedright\arraybackslash}p{3.4cm}"
        r">{\centering\arraybackslash}p{1.6cm}>{\raggedright\arraybackslash}p{8.4cm}"
        r">{\raggedright\arraybackslash}p{5.4cm}"
    )
    head = r"\textbf{Cell} & \textbf{Prediction} & \textbf{Reported} & \textbf{Strongest paths} & \textbf{Evidence}"
    caption = (
        rf"Why each cell is predicted as it is (method \texttt{{{esc(model.method)}}}): the resolution, "
        rf"confidence, up to {MAX_PATHS} strongest signed paths and the references behind their edges."
    )
    lines = _longtable_head(cols, caption, "tab:interplay-explanations", head)
    for c in model.cells:
        p = c.prediction
        if p is None:
            continue
        d, r = model.node(c.defense), model.node(c.risk)
        paths = p.paths[:MAX_PATHS]
        more = len(p.paths) - len(paths)
        path_txt = r"\newline ".join(_path_tex(model, x) for x in paths) or "none"
        if more > 0:
            path_txt += rf"\newline (+{more} more)"
        refs = list(dict.fromkeys(ev["ref"] for x in paths for e in x.edges for ev in e.evidence))
        reported = DIRECTION_MARK[c.reported] if c.reported else ("unexplored" if c.observation else "--")
        pred = rf"{DIRECTION_MARK[p.direction]} {esc(p.direction)}, {esc(p.resolution)}, {decimal(p.confidence)}"
        cites = rf"\cite{{{','.join(refs)}}}" if refs else "--"
        row = [f"{esc(d.label)} $\\to$ {esc(r.label)}", pred, reported, path_txt, cites]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\end{longtable}", "}"]
    return "\n".join(lines) + "\n"


def edge_table(model: ExportModel) -> str:
    """Every exported mechanism edge with its sign, reading, conditions and evidence."""
    cols = (
        r">{\raggedright\arraybackslash}p{5.6cm}>{\centering\arraybackslash}p{0.8cm}"
        r">{\raggedright\arraybackslash}p{3.0cm}>{\raggedright\arraybackslash}p{7.2cm}"
        r">{\raggedright\arraybackslash}p{6.6cm}"
    )
    head = r"\textbf{Edge} & \textbf{Sign} & \textbf{Reading} & \textbf{Evidence} & \textbf{Note}"
    caption = (
        r"The mechanism edges and their evidence (kind and locator per reference). Moderator edges are "
        r"Table~2 correlations that say when a defense works; the graph method does not traverse them."
    )
    lines = _longtable_head(cols, caption, "tab:interplay-edges", head)
    for e in model.edges:
        src, tgt = model.node(e.source), model.node(e.target)
        reading = esc(e.interpretation) + (f"; if {esc(e.condition_text)}" if e.conditions else "")
        ev = "; ".join(
            rf"\cite{{{x.ref}}} ({esc(x.kind)}{', ' + esc(x.locator) if x.locator else ''})" for x in e.evidence
        )
        row = [f"{esc(src.label)} $\\to$ {esc(tgt.label)}", f"${SIGN_TEX[e.sign]}$", reading, ev, esc(e.note)]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\end{longtable}", "}"]
    return "\n".join(lines) + "\n"


def factor_table(model: ExportModel) -> str:
    """The measured defense x factor table in the style of the SoK's Table 2: per defense -> factor edge, the KB's
    sign beside the measured direction and verdict (``interplay measure``)."""
    lines = [
        r"\begin{table}[t]\centering\footnotesize",
        r"\caption{Defense $\to$ factor edges: the knowledge base's sign (Table~2) beside the direction measured by "
        r"\textsf{interplay measure} (paired seeds, BH across a defense's factors).}\label{tab:interplay-factors}",
        r"\begin{tabular}{llccl}",
        r"\toprule",
        r"\textbf{Defense} & \textbf{Factor} & \textbf{KB} & \textbf{Measured} & \textbf{Verdict} \\",
        r"\midrule",
    ]
    for m in model.measurements:
        observed = DIRECTION_MARK.get(str(m.effect.get("observed", "")), r"\ipUnk")
        sign = SIGN_TEX.get(str(m.effect.get("kb", "")), "?")
        factor = model.node(m.factor).label if m.factor in model.nodes else m.factor
        row = [esc(model.node(m.defense).label), esc(factor), f"${sign}$", observed, esc(m.verdict)]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render(model: ExportModel, standalone: bool = False) -> str:
    body = [
        "% Written by interplay (interplay export latex). Every string from the knowledge base is escaped.\n",
        f"% Packages this fragment needs: {', '.join(PACKAGES)} (\\usepackage{{{','.join(PACKAGES)}}}).\n",
        "% Its \\cite keys are those of `interplay export bib` (same options).\n",
    ]
    for note in model.notes:
        body.append(f"% Note: {esc(note)}\n")
    body += [MACROS, matrix(model)]
    if standalone:
        body.append("\\clearpage\n")
    if model.predictions:
        body.append(explanations(model))
    if model.edges:
        body.append(edge_table(model))
    if model.measurements:
        body.append(factor_table(model))
    fragment = "".join(body)
    if not standalone:
        return fragment
    return (
        f"\\begin{{filecontents*}}[overwrite]{{{BIB_NAME}.bib}}\n{bibtex.render(model)}\\end{{filecontents*}}\n"
        "\\documentclass[10pt]{article}\n"
        "\\usepackage[utf8]{inputenc}\n"
        "\\usepackage[landscape,a4paper,margin=1.5cm]{geometry}\n"
        "\\usepackage{amsmath}\n"
        f"\\usepackage{{{','.join(PACKAGES)}}}\n"
        "\\pagestyle{empty}\n"
        "\\begin{document}\n"
        f"{fragment}"
        "\\bibliographystyle{plain}\n"
        f"\\bibliography{{{BIB_NAME}}}\n"
        "\\end{document}\n"
    )
