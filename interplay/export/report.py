"""The HTML report: one self-contained page (inline CSS and SVG; no scripts, fonts or network) of the matrix.

It renders the export model (with every layer: observations, predictions, validations) and the status records
of :mod:`interplay.interactions.status`, so its verdicts are those of ``interplay status`` and of the other
exports. Sections: the matrix as a heat map (colour = predicted direction, intensity = confidence; each cell
shows the prediction P, the literature L and the verdict V, its border the agreement), the cells where
something disagrees, every cell's explanation (paths with evidence and sweep marks, the experiment with its
plots), the factor sweeps and the references. The figures of :mod:`.charts` are embedded as PNG data URIs: the
matrix heat map once a cell is validated, each validated cell's forest plot and each cell's newest sweep per
factor. Every KB and store string is escaped for HTML.
"""

from __future__ import annotations

from pathlib import Path

from interplay.export.escape import xml as esc
from interplay.export.latex import ordered_risks
from interplay.export.model import INCLUDES, Cell, ExportError, ExportModel, build_export_model
from interplay.export.numbers import decimal, p_value
from interplay.export.style import SIGN_COLOR
from interplay.export.svg_plots import effect_plot, seeds_plot
from interplay.export.writers import check_output_file, write_failure
from interplay.interactions.paths import SignedPath
from interplay.interactions.status import cell_status, summary
from interplay.interactions.validated import Validations
from interplay.kb import KB
from interplay.version import VERSION

ARROW = {
    "increase": "↑", "decrease": "↓", "none": "○", "mixed": "↕", "ambiguous": "↕", "unknown": "–", "unexplored": "·"
}  # fmt: skip
VERDICT_MARK = {"confirmed": "✓", "refuted": "✗", "inconclusive": "?", "not-applicable": "∅", "not validated": "·"}
RGB = {"increase": SIGN_COLOR["increases"], "decrease": SIGN_COLOR["decreases"]}
SWEEP_TEXT = {"confirmed": "✓ confirmed by a sweep", "contradicted": "✗ contradicted by a sweep"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;
 line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{margin:.2em 0}
.meta,.note{color:#666;font-size:.9em}
table.heatmap{border-collapse:separate;border-spacing:3px;margin:12px 0}
.heatmap th{font-size:.85em;font-weight:600;padding:4px;text-align:center}
.heatmap th.row{text-align:right;white-space:nowrap}
.heatmap td{width:92px;height:52px;text-align:center;border:2px solid transparent;border-radius:4px;padding:2px}
.heatmap td a{color:#111;text-decoration:none;display:block}
.heatmap td.disagree{border-color:#B00020}.heatmap td.all-agree{border-color:#1B7F3B}
.heatmap .p{font-size:1.5em;font-weight:700;line-height:1.1}.heatmap .lv{font-size:.8em}
.legend{font-size:.85em;color:#444}
table.facts,table.list{border-collapse:collapse;font-size:.9em;margin:6px 0}
.facts th,.facts td,.list th,.list td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
.cell-detail{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
.cell-detail.disagree{border-color:#B00020}
.plots{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-end}.plots figure{margin:4px 0}
figcaption{font-size:.8em;color:#666;max-width:230px}figure.chart img{max-width:100%;height:auto}
figure.chart figcaption{max-width:none}
ol.paths li{margin-bottom:6px}ul.edges{margin:2px 0 0 0;font-size:.88em;color:#444}
.confirmed{color:#1B7F3B;font-weight:600}.refuted,.contradicted{color:#B00020;font-weight:600}
.inconclusive{color:#8A6D00}.sign{font-weight:700}
ol.refs li{margin-bottom:4px;font-size:.9em}code{font-size:.9em}
"""


def _anchor(defense: str, risk: str) -> str:
    return esc(f"cell-{defense}--{risk}")


def _background(direction: str, confidence: float) -> str:
    hex_color = RGB.get(direction, "#9E9E9E")
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    alpha = 0.12 + 0.6 * confidence if direction in RGB else 0.12
    return f"rgba({r},{g},{b},{alpha:.2f})"


def _heatmap(model: ExportModel, status: dict) -> str:
    groups = ordered_risks(model)
    risks = [r for _, rs in groups for r in rs]
    head = "".join(f'<th colspan="{len(rs)}">{esc(cat.capitalize())}</th>' for cat, rs in groups)
    codes = "".join(f'<th title="{esc(model.node(r).name)}">{esc(model.node(r).short)}</th>' for r in risks)
    rows = []
    for d in model.defenses:
        tds = []
        for r in risks:
            s, p = status[d, r], model.cell(d, r).prediction
            assert p is not None, "the report's model includes predictions"
            cls = s["agreement"].replace(" ", "-")
            title = (f"{model.node(d).name} -> {model.node(r).name}: predicted {p.direction} "
                     f"({decimal(p.confidence)}), literature {s['literature']}, {s['verdict']}; "
                     f"{s['agreement']}")  # fmt: skip
            tds.append(
                f'<td class="{cls}" style="background:{_background(p.direction, p.confidence)}" '
                f'data-defense="{esc(d)}" data-risk="{esc(r)}" data-prediction="{esc(p.direction)}" '
                f'data-literature="{esc(s["literature"])}" data-verdict="{esc(s["verdict"])}" '
                f'data-agreement="{esc(s["agreement"])}" title="{esc(title)}"><a href="#{_anchor(d, r)}">'
                f'<div class="p">{ARROW[p.direction]}</div>'
                f'<div class="lv">L {ARROW[s["literature"]]}&ensp;V {VERDICT_MARK[s["verdict"]]}</div></a></td>'
            )
        rows.append(f'<tr><th class="row">{esc(model.node(d).label)}</th>{"".join(tds)}</tr>')
    return (
        f'<table class="heatmap" id="matrix"><thead><tr><th></th>{head}</tr><tr><th></th>{codes}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="legend">Colour: the predicted direction (vermillion increase, green decrease, grey none, '
        "ambiguous or unknown), its intensity the confidence. Large arrow P: prediction "
        f"(<code>{esc(model.method)}</code>); L: literature (· unexplored); V: verdict of the experiment "
        "(✓ confirmed, ✗ refuted, ? inconclusive, · not validated). Red border: prediction, literature and "
        "experiment disagree somewhere; green border: all three agree.</p>"
    )


def _ref_link(key: str) -> str:
    return f'<a href="#ref-{esc(key)}">{esc(key)}</a>'


def _path_html(model: ExportModel, path: SignedPath) -> str:
    names = " → ".join(esc(model.node(n).short) if n in model.nodes else esc(n) for n in path.nodes)
    tags = " · active" * path.active + " · context" * path.contextual
    edges = []
    for e in path.edges:
        ev = "; ".join(f"{_ref_link(x['ref'])} ({esc(x['kind'])}{', ' + esc(x['locator']) if x.get('locator') else ''})"
                       for x in e.evidence)  # fmt: skip
        mark = f' <span class="{esc(e.mark)}">{SWEEP_TEXT[e.mark]}</span>' if e.mark in SWEEP_TEXT else ""
        edges.append(f'<li>{esc(e.source)} <span class="sign">{esc(e.sign)}</span> {esc(e.target)}: {ev}{mark}</li>')
    return (
        f'<li><span class="sign">{esc(path.sign)}</span> {names} <span class="note">(weight {decimal(path.weight)}'
        f'{tags})</span><ul class="edges">{"".join(edges)}</ul></li>'
    )


def _validation_html(cell: Cell, status: dict) -> str:
    v = cell.record
    if v is None:
        return '<p class="note">Not validated: run <code>interplay validate</code> on this cell.</p>'
    e = v.effect
    ci = e.get("ci95") or ["?", "?"]
    num = lambda x, signed=False: esc(decimal(x, signed))  # noqa: E731
    stale = ' <span class="note">(judged an earlier prediction)</span>' if status["stale"] else ""
    rows = [
        ("verdict", f'<span class="{esc(v.verdict)}">{esc(v.verdict)}</span> of the prediction '
                    f"{esc(v.prediction)}{stale}"),
        ("observed", esc(v.observed) + (f" ({esc(e['evidence'])})" if e.get("evidence") else "")),
        ("effect", f"{esc(e.get('metric', ''))}: {num(e.get('baseline', '?'))} → {num(e.get('defended', '?'))}, "
                   f"difference {num(e.get('difference', '?'), True)}, "
                   f"95% CI [{num(ci[0], True)}, {num(ci[1], True)}], p = {esc(p_value(e.get('p_value', '?')))}, "
                   f"minimum effect {num(e.get('min_effect', '?'))}, minimal detectable effect "
                   f"{num(e.get('mde', '?'))} (80% power)"),
        ("defense effective", esc(v.defense_effective)),
        ("evidence", f"{esc(v.kind)}: {v.seeds} seeds on {esc(v.dataset)}, configuration <code>{esc(v.locator)}"
                     f"</code>{f' (best of {v.configurations})' if v.configurations > 1 else ''}"),
        *((f"{esc(name)} setting", f'<span class="{esc(s["verdict"])}">{esc(s["verdict"])}</span>, observed '
           f"{esc(s['observed'])} on {esc(s['dataset'])}" + (f", {esc(s['regime'])} regime" if s["regime"] else ""))
          for name, s in status.get("settings", {}).items()),
    ]  # fmt: skip
    facts = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    plots = "".join(f"<figure>{svg}<figcaption>{cap}</figcaption></figure>"
                    for svg, cap in ((seeds_plot(v), "risk score per seed"),
                                     (effect_plot(v), "defended − baseline, 95% CI; grey: below the minimum effect"))
                    if svg)  # fmt: skip
    return f'<table class="facts">{facts}</table><div class="plots">{plots}</div>'


def _figure_html(uri: str, caption: str, width: int) -> str:
    return (f'<figure class="chart"><img src="{uri}" width="{width}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip


def _forest_html(cell: Cell) -> str:
    """The cell's forest plot (:func:`.charts.forest`) when its per-seed scores reproduce its effect."""
    from interplay import frames
    from interplay.export import charts

    v = cell.record
    if v is None or not v.effect.get("ci95") or not frames.reproduces([(b, d) for _, b, d in v.seed_scores], v.effect):
        return ""
    seeds = [{"seed": s, "difference": d - b} for s, b, d in v.seed_scores]
    fig = charts.forest(seeds, v.effect, f"{cell.defense} → {cell.risk}")
    return _figure_html(charts.data_uri(fig), "per-seed differences, mean and 95% CI; grey: smallest effect of "
                        "interest (interplay export forest)", 340)  # fmt: skip


def _heatmap_figure(model: ExportModel, records: list[dict]) -> str:
    """The matrix figure (:func:`.charts.heatmap`; ``interplay export heatmap``) once any cell was validated."""
    from interplay.export import charts

    if not any(s["validation"] for s in records):
        return ""
    uri = charts.data_uri(charts.heatmap(model, records))
    return _figure_html(uri, "literature, prediction and observed effect with its verdict (interplay export "
                        "heatmap)", 760)  # fmt: skip


def _sweeps_html(model: ExportModel, sweeps: list[dict]) -> str:
    """The newest sweep of each cell and factor in the report (:func:`.charts.sweep_curves`)."""
    from interplay.export import charts

    shown: dict[tuple, dict] = {}
    for doc in sweeps:  # newest first
        key = (doc.get("defense"), doc.get("risk"), doc.get("factor"))
        if doc.get("points") and key[0] in model.nodes and key[1] in model.nodes:
            shown.setdefault(key, doc)
    if not shown:
        return '<p class="note">No factor swept: run <code>interplay sweep DEFENSE RISK --factor F</code>.</p>'
    return "".join(_figure_html(charts.data_uri(charts.sweep_curves(doc)), f"{d} → {r}: sweep of {f} "
                                f"(interplay export sweep --cell {d},{r} --factor {f})", 600)
                   for (d, r, f), doc in shown.items())  # fmt: skip


def _cell_html(model: ExportModel, cell: Cell, status: dict) -> str:
    d, r, p = model.node(cell.defense), model.node(cell.risk), cell.prediction
    assert p is not None, "the report's model includes predictions"
    lit = esc(status["literature"])
    if status["references"]:
        lit += " [" + ", ".join(_ref_link(k) for k in status["references"]) + "]"
    for x in status["exceptions"]:
        ctx = ", ".join(f"{k}={v}" for k, v in x.get("context", {}).items())
        lit += f"; {esc(x['direction'])} if {esc(ctx)} [" + ", ".join(_ref_link(k) for k in x.get("refs", [])) + "]"
    if status["conjecture"]:
        lit += f"; conjectured {esc(status['conjecture'])} in the SoK"
    preds = ", ".join(f"{esc(m)}: {esc(v)}" for m, v in status["predictions"].items())
    facts = [
        ("literature", lit),
        ("prediction", f"{esc(p.direction)} ({esc(p.resolution)}, confidence {decimal(p.confidence)}); {preds}"),
        ("agreement", esc(status["agreement"])),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    paths = "".join(_path_html(model, x) for x in p.paths) or "<li>no causal path</li>"
    return (
        f'<section class="cell-detail {esc(status["agreement"].replace(" ", "-"))}" id="{_anchor(d.id, r.id)}">'
        f'<h3>{esc(d.label)} → {esc(r.label)}</h3><table class="facts">{rows}</table>'
        f"<h4>Experiment</h4>{_validation_html(cell, status)}{_forest_html(cell)}"
        f"<details><summary>{len(p.paths)} signed path(s) and their evidence</summary>"
        f'<ol class="paths">{paths}</ol></details></section>'
    )


def _disagreements(model: ExportModel, records: list[dict]) -> str:
    rows = [
        f'<tr><td><a href="#{_anchor(s["defense"], s["risk"])}">{esc(model.node(s["defense"]).short)} → '
        f"{esc(model.node(s['risk']).short)}</a></td><td>{esc(s['literature'])}</td><td>{esc(s['prediction'])}</td>"
        f"<td>{esc(s['observed'] or '-')}</td><td>{esc(s['verdict'])}</td>"
        f"<td>{', '.join(esc(k) for k, ok in s['agreements'].items() if ok is False)}</td></tr>"
        for s in records
        if s["agreement"] == "disagree"
    ]
    if not rows:
        return '<p class="note">No cell disagrees.</p>'
    head = "<tr><th>cell</th><th>literature</th><th>prediction</th><th>observed</th><th>verdict</th><th>disagree</th>"
    return f'<table class="list" id="disagreements">{head}</tr>{"".join(rows)}</table>'


def _factors_html(model: ExportModel) -> str:
    """The measured defense -> factor verdicts beside the KB's signs (``interplay measure``)."""
    if not model.measurements:
        return '<p class="note">No factor measured: run <code>interplay measure DEFENSE</code>.</p>'
    rows = "".join(
        f"<tr><td>{esc(model.node(m.defense).short)}</td><td>{esc(m.factor)}</td><td>{esc(m.effect.get('kb', ''))}"
        f'</td><td>{esc(m.effect.get("observed", ""))}</td><td class="{esc(m.verdict)}">{esc(m.verdict)}</td></tr>'
        for m in model.measurements
    )
    head = "<tr><th>defense</th><th>factor</th><th>KB</th><th>measured</th><th>verdict</th></tr>"
    return f'<table class="list" id="factors">{head}{rows}</table>'


def _reference_html(key: str, ref) -> str:
    if ref is None:
        return f'<li id="ref-{esc(key)}"><code>{esc(key)}</code>: not in the knowledge base</li>'
    bits = [", ".join(ref.authors), f"<em>{esc(ref.title)}</em>" if ref.title else "", ref.venue or "",
            str(ref.year or "")]  # fmt: skip
    text = ". ".join(b if b.startswith("<em>") else esc(b) for b in bits if b) or "work not identified"
    if ref.sok_number:
        text += f" (SoK reference [{ref.sok_number}])"
    if ref.status in ("inferred", "unresolved"):
        text += f' <span class="note">({esc(ref.status)})</span>'
    if ref.url and ref.url.startswith(("https://", "http://")):
        text += f' <a href="{esc(ref.url)}">{esc(ref.url)}</a>'
    return f'<li id="ref-{esc(key)}"><code>{esc(key)}</code>: {text}</li>'


def render(model: ExportModel, records: list[dict], source: str = "", sweeps: list[dict] | None = None) -> str:
    """The page for ``model`` and the status ``records`` of its cells (and the stored ``sweeps``' documents)."""
    sweeps = sweeps or []
    status = {(s["defense"], s["risk"]): s for s in records}
    c = summary(records)
    counts = (f"{c['cells']} cells: {c['validated']} validated ({c['confirmed']} confirmed, {c['refuted']} refuted, "
              f"{c['inconclusive']} inconclusive); {c['all agree']} where literature, prediction and experiment all "
              f"agree, {c['disagree']} with a disagreement")  # fmt: skip
    notes = "".join(f'<p class="note">Note: {esc(n)}</p>' for n in model.notes)
    cells = "".join(_cell_html(model, cell, status[cell.defense, cell.risk]) for cell in model.cells)
    refs = "".join(_reference_html(k, ref) for k, ref in sorted(model.references.items()))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>interplay report: defenses x risks</title><style>{CSS}</style></head><body>"
        "<h1>Unintended interactions: defenses × risks</h1>"
        f'<p class="meta">interplay {esc(VERSION)}; method <code>{esc(model.method)}</code>; results '
        f"{esc(source or 'none')}. {esc(counts)}.</p>{notes}"
        f"<h2>Matrix</h2>{_heatmap(model, status)}{_heatmap_figure(model, records)}"
        f"<h2>Disagreements</h2>{_disagreements(model, records)}"
        f"<h2>Measured factors</h2>{_factors_html(model)}"
        f"<h2>Factor sweeps</h2>{_sweeps_html(model, sweeps)}"
        f"<h2>Cells</h2>{cells}"
        f'<h2>References</h2><ol class="refs" id="references">{refs}</ol>'
        "</body></html>\n"
    )


def write_report(
    kb: KB,
    path: str | Path,
    method: str = "graph",
    validations: Validations | None = None,
    subset: list[str] | None = None,
    sweeps: list[dict] | None = None,
) -> Path:
    """Write the report of ``kb`` (with the validated-here layer ``validations`` and the stored ``sweeps``'
    documents; of the defenses and risks in ``subset``, or all) to ``path``."""
    layer = validations if validations is not None else Validations()
    model = build_export_model(kb, method, subset, include=INCLUDES, validations=layer)
    out = Path(path)
    check_output_file(out)
    page = render(model, cell_status(kb, layer, method, model.defenses), layer.source, sweeps)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ExportError(write_failure(out, exc)) from None
    return out
