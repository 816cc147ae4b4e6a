"""`interplay predict | explain | matrix | conflicts | eval`: the reasoner on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from interplay import api
from interplay.cli.combo_commands import combo_loo, combo_matrix
from interplay.cli.common import (
    ContextOpt,
    Defenses,
    Json,
    KBDir,
    Method,
    MethodOpt,
    Overlay,
    console,
    emit_json,
    errors,
    esc,
    open_kb,
    parse_context,
    score_table,
)
from interplay.interactions import Prediction

CombosOpt = Annotated[bool, typer.Option("--combos", help="Pairs of defenses deployed together instead of cells.")]
ARROW = {
    "increase": "[red]↑ increase[/]",
    "decrease": "[green]↓ decrease[/]",
    "none": "– none",
    "mixed": "[yellow]↕ mixed[/]",
}
SWEEP_MARK = {"confirmed": "  [green]✓ confirmed by a sweep[/]", "contradicted": "  [red]✗ contradicted by a sweep[/]"}


def _direction(d: str) -> str:
    return ARROW.get(d, f"[yellow]{esc(d)}[/]")


def _probability(p: Prediction) -> str:
    if p.probability is None:
        return ""
    return f", probability right {p.probability:.2f}" + (", [yellow]abstains[/]" if p.abstain else "")


def predict_cmd(
    defense: str,
    risk: str,
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Predict how deploying DEFENSE changes susceptibility to RISK."""
    with errors(json):
        p = api.predict(
            defense, risk, method=method.value, context=parse_context(context, json), kb=open_kb(kb, overlay, json)
        )
    if json:
        emit_json(p.to_dict())
        return
    console.print(
        f"{esc(p.defense)} -> {esc(p.risk)}: {_direction(p.direction)}  ({esc(p.resolution)}, "
        f"confidence {p.confidence:.2f}{_probability(p)})"
    )
    if p.advice:
        console.print(f"[yellow]{esc(p.advice)}[/]")
    console.print(f"paths: {len(p.supporting)} supporting, {len(p.opposing)} opposing, {len(p.neutral)} other")
    for key, answers in p.depends_on.items():
        console.print(f"depends on {esc(key)}: " + esc(", ".join(f"{v} -> {a}" for v, a in answers.items())))
    if p.known:
        console.print(f"literature: {_direction(p.known['direction'])} {esc(', '.join(p.known['refs']))}")
    for n in p.notes:
        console.print(f"[dim]{esc(n)}[/]")


EvidenceOpt = Annotated[
    str,
    typer.Option(
        "--evidence",
        help="With --store: read its measured evidence on defense -> factor edges beside the literature (all), "
        "instead of it (measured) or not (literature).",
    ),
]
ReadStore = Annotated[
    Path | None, typer.Option("--store", help="Read validation results, sweeps and measurements back.")
]


def explain_cmd(
    defense: str,
    risk: str,
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    json: Json = False,
    store: ReadStore = None,
    kb: KBDir = None,
    overlay: Overlay = None,
    evidence: EvidenceOpt = "all",
) -> None:
    """Show the paths behind a prediction as a tree, with each edge's evidence and references."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        p = api.explain(
            defense,
            risk,
            method=method.value,
            context=parse_context(context, json),
            kb=k,
            store=store if store else False,
            evidence=evidence,
        )
    if json:
        emit_json(p.to_dict())
        return
    root = Tree(
        f"[bold]{esc(p.defense)} -> {esc(p.risk)}[/]: {_direction(p.direction)} ({esc(p.resolution)}, "
        f"{p.confidence:.2f}{_probability(p)})"
    )
    why = root.add("why " + ("withheld" if p.abstain else "given"))
    for line in p.why + ([p.advice] if p.advice else []):
        why.add(esc(line))
    for label, paths in (("supporting", p.supporting), ("opposing", p.opposing), ("other", p.neutral)):
        if not paths:
            continue
        branch = root.add(f"{label} paths ({len(paths)})")
        for path in paths:
            names = " -> ".join(k.entity(n).code or n for n in path.nodes)
            tags = " [magenta]active[/]" * path.active + " [cyan]context[/]" * path.contextual
            node = branch.add(f"{esc(path.sign)}  {esc(names)}  (weight {path.weight:.2f}){tags}")
            for e in path.edges:
                refs = ", ".join(
                    f"{ev['ref']} ({ev['kind']}{', ' + ev['locator'] if 'locator' in ev else ''})" for ev in e.evidence
                )
                measured = f" [cyan]measured here: {esc(e.measured)}[/]" if e.measured else ""
                node.add(
                    f"{esc(e.source)} [bold]{esc(e.sign)}[/] {esc(e.target)}: {esc(refs)}{SWEEP_MARK.get(e.mark, '')}"
                    + measured
                )
    if p.known:
        root.add(f"literature: {_direction(p.known['direction'])} {esc(', '.join(p.known['refs']))}")
    if store:
        root.add(_validation_line(p))
    for n in p.notes:
        root.add(f"[dim]{esc(n)}[/]")
    console.print(root)


def _validation_line(p: Prediction) -> str:
    v = p.validation
    if v is None:
        return "validated here: [dim]not validated[/]"
    e = v.effect
    ci = e.get("ci95") or [float("nan")] * 2
    detail = (
        f"({e.get('metric', 'score')} {e.get('difference', float('nan')):+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}], "
        f"p {e.get('p_value', float('nan')):.3g}; {v.seeds} seeds on {v.dataset}; config {v.config_hash})"
    )
    return f"validated here: observed {_direction(v.observed)}, [bold]{esc(v.verdict)}[/] {esc(detail)}"


def matrix_cmd(
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    combos: CombosOpt = False,
    defenses: Defenses = "sok",
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Every defense x risk cell (or, with --combos, every pair of defenses): prediction, literature, agreement."""
    k = open_kb(kb, overlay, json)
    ctx = parse_context(context, json)
    if combos:
        return combo_matrix(k, ctx, json, defenses)
    with errors(json):
        preds = api.matrix(method=method.value, context=ctx, kb=k, defenses=defenses)
    if json:
        emit_json(api.matrix_document(preds))
        return
    t = Table(
        "defense", *[esc(r.code or r.id) for r in k.risks.values()], title=f"Predictions ({method.value}) vs literature"
    )
    marks = {"increase": "↑", "decrease": "↓", "none": "0", "mixed": "↕", "ambiguous": "?", "unknown": "·"}
    for d in (k.defenses[slug] for slug in dict.fromkeys(p.defense for p in preds)):
        row = []
        for p in (q for q in preds if q.defense == d.id):
            cell = marks.get(p.direction, "?") + ("~" if p.abstain else "")
            agree = api.agreement(p)
            lit = marks.get(p.known["direction"], "·") if p.known and p.known["direction"] != "unexplored" else "·"
            color = {"agree": "green", "disagree": "red"}.get(agree or "", "dim")
            row.append(f"[{color}]{cell}[/] / {lit}")
        t.add_row(esc(f"{d.code or ''} {d.id}".strip()), *row)
    console.print(t)
    agreed = sum(api.agreement(p) == "agree" for p in preds)
    directed = sum(api.agreement(p) is not None for p in preds)
    console.print(
        f"cells: predicted / literature (~: abstains, run validate). Agreement on directed cells: {agreed}/{directed}"
    )


def conflicts_cmd(
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Cells whose paths disagree, ranked by how balanced the disagreement is."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        rows = api.conflicts(method=method.value, context=parse_context(context, json), kb=k)
    if json:
        emit_json(rows)
        return
    t = Table("defense", "risk", "↑ weight", "↓ weight", "balance", "prediction", "resolved by", title="Conflicts")
    for r in rows:
        t.add_row(
            esc(r["defense"]),
            esc(r["risk"]),
            f"{r['increase_weight']:.2f}",
            f"{r['decrease_weight']:.2f}",
            f"{r['balance']:.2f}",
            esc(r["prediction"]),
            esc(r["resolution"]),
        )
    console.print(t)


eval_app = typer.Typer(help="Evaluate the reasoner against reported interactions.", no_args_is_help=True)


@eval_app.command("loo")
def eval_loo(
    method: MethodOpt = Method.graph,
    combos: CombosOpt = False,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
    store: ReadStore = None,
    evidence: EvidenceOpt = "all",
) -> None:
    """Leave-one-paper-out over the directed cells (or the combinations), with the baselines side by side; with
    --store, the measured evidence on defense -> factor edges read too, and the literature-only score beside."""
    k = open_kb(kb, overlay, json)
    if combos:
        return combo_loo(k, json)
    with errors(json):
        main = api.evaluate_loo(method=method.value, kb=k, store=store if store else False, evidence=evidence)
    if json:
        emit_json(main)
        return
    rows = [main, *([main["literature_only"] | {"method": f"{main['method']} (literature only)"}]
                    if "literature_only" in main else []), *main["baselines"]]  # fmt: skip
    console.print(score_table(f"Leave-one-paper-out (evidence: {main['evidence']})", rows))
    columns = main["confusion"][next(iter(main["confusion"]))]
    conf = Table("literature \\ predicted", *map(esc, columns), title=esc(main["method"]))
    for truth, row in main["confusion"].items():
        conf.add_row(esc(truth), *(str(v) for v in row.values()))
    console.print(conf)
    for e in main["errors"]:
        held = (
            ""
            if e.get("probability") is None
            else f" (probability {e['probability']:.2f}" + (", abstains)" if e["abstain"] else ", answered)")
        )
        console.print(
            f"[red]miss[/] {esc(e['defense'])} -> {esc(e['risk'])}: literature {esc(e['truth'])}, "
            f"predicted {esc(e['predicted'])}{held}"
        )
    if "selective" in main:
        _selective_tables(main)


def _selective_tables(doc: dict) -> None:
    sel = doc["selective"]
    console.print(
        f"selective: accuracy {sel['accuracy']:.3f} ({sel['correct']}/{sel['answered']}) at coverage "
        f"{sel['coverage']:.3f}, answering where probability > {sel['threshold']}"
    )
    curve = Table("answer if probability ≥", "coverage", "accuracy", "risk", title="Risk-coverage")
    for row in doc["risk_coverage"]:
        curve.add_row(
            f"{row['threshold']:.3f}", f"{row['coverage']:.3f}", f"{row['accuracy']:.3f}", f"{row['risk']:.3f}"
        )
    console.print(curve)
    rel = Table("probability", "n", "mean probability", "accuracy", title="Reliability")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for row in doc["reliability"]:
        lo, hi = row["bin"]
        rel.add_row(f"[{lo:.1f}, {hi:.1f})", str(row["n"]), fmt(row["mean_probability"]), fmt(row["accuracy"]))
    console.print(rel)


@eval_app.command("file")
def eval_file(
    path: Path,
    method: MethodOpt = Method.graph,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Score predictions against a YAML/CSV of records with fields defense, risk, direction."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        doc = api.evaluate_file(path, method=method.value, kb=k)
    if json:
        emit_json(doc)
        return
    console.print(score_table(f"Scored against {esc(path)}", [doc]))
    if "selective" in doc:
        _selective_tables(doc)
    for u in doc["unresolved"]:
        console.print(f"[yellow]unresolved[/] record {u['record']}: {esc(u['reason'])}")
