"""`interplay predict | explain | matrix | conflicts | eval`: the reasoner on the command line."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from interplay.cli.common import Json, KBDir, Overlay, console, emit_json, fail, open_kb, resolve
from interplay.cli.evidence import read_store
from interplay.interactions import ContextError, Prediction, predict, predict_all
from interplay.interactions.evaluate import BASELINES, leave_one_paper_out, read_records, score_records
from interplay.kb import KB


class Method(str, Enum):
    graph = "graph"
    guideline = "guideline"
    shortest_path = "shortest-path"


MethodOpt = Annotated[Method, typer.Option("--method", "-m", help="Prediction method.")]
ContextOpt = Annotated[
    list[str] | None,
    typer.Option("--context", "-c", help="KEY=VALUE, e.g. adversary=malicious-accuser (repeatable)."),
]
CombosOpt = Annotated[bool, typer.Option("--combos", help="Pairs of defenses deployed together instead of cells.")]
ARROW = {"increase": "[red]↑ increase[/]", "decrease": "[green]↓ decrease[/]", "none": "– none"}
SWEEP_MARK = {"confirmed": "  [green]✓ confirmed by a sweep[/]", "contradicted": "  [red]✗ contradicted by a sweep[/]"}


def _context(items: list[str] | None) -> dict[str, str]:
    ctx = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"--context expects KEY=VALUE, got {item!r}")
        ctx[key.strip()] = value.strip()
    return ctx


def _predict(
    kb: KB, defense: str, risk: str, method: Method, context: list[str] | None, validations=None
) -> Prediction:
    d, r = resolve(kb, defense, "defense"), resolve(kb, risk, "risk")
    try:
        return predict(kb, d, r, method.value, _context(context), validations=validations)
    except ContextError as exc:
        fail(str(exc))


def _direction(d: str) -> str:
    return ARROW.get(d, f"[yellow]{d}[/]")


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
    p = _predict(open_kb(kb, overlay), defense, risk, method, context)
    if json:
        emit_json(p.to_dict())
        return
    console.print(
        f"{p.defense} -> {p.risk}: {_direction(p.direction)}  ({p.resolution}, confidence {p.confidence:.2f})"
    )
    console.print(f"paths: {len(p.supporting)} supporting, {len(p.opposing)} opposing, {len(p.neutral)} other")
    if p.known:
        console.print(f"literature: {_direction(p.known['direction'])} {', '.join(p.known['refs'])}")
    for n in p.notes:
        console.print(f"[dim]{n}[/]")


def explain_cmd(
    defense: str,
    risk: str,
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    json: Json = False,
    store: Annotated[Path | None, typer.Option("--store", help="Read validation results and sweeps back.")] = None,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Show the paths behind a prediction as a tree, with each edge's evidence and references."""
    k = open_kb(kb, overlay)
    p = _predict(k, defense, risk, method, context, read_store(store) if store else None)
    if json:
        emit_json(p.to_dict())
        return
    root = Tree(f"[bold]{p.defense} -> {p.risk}[/]: {_direction(p.direction)} ({p.resolution}, {p.confidence:.2f})")
    for label, paths in (("supporting", p.supporting), ("opposing", p.opposing), ("other", p.neutral)):
        if not paths:
            continue
        branch = root.add(f"{label} paths ({len(paths)})")
        for path in paths:
            names = " -> ".join(k.entity(n).code or n for n in path.nodes)
            tags = " [magenta]active[/]" * path.active + " [cyan]context[/]" * path.contextual
            node = branch.add(f"{path.sign}  {names}  (weight {path.weight:.2f}){tags}")
            for e in path.edges:
                refs = ", ".join(
                    f"{ev['ref']} ({ev['kind']}{', ' + ev['locator'] if 'locator' in ev else ''})" for ev in e.evidence
                )
                node.add(f"{e.source} [bold]{e.sign}[/] {e.target}: {refs}{SWEEP_MARK.get(e.mark, '')}")
    if p.known:
        root.add(f"literature: {_direction(p.known['direction'])} {', '.join(p.known['refs'])}")
    if store:
        root.add(_validation_line(p))
    for n in p.notes:
        root.add(f"[dim]{n}[/]")
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
    return f"validated here: observed {_direction(v.observed)}, [bold]{escape(v.verdict)}[/] {escape(detail)}"


def _agreement(p: Prediction) -> str | None:
    if not p.known or p.known["direction"] == "unexplored":
        return None
    return "agree" if p.direction == p.known["direction"] else "disagree"


def matrix_cmd(
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    combos: CombosOpt = False,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Every defense x risk cell (or, with --combos, every pair of defenses): prediction, literature, agreement."""
    k = open_kb(kb, overlay)
    if combos:
        from interplay.cli.combo_commands import combo_matrix

        return combo_matrix(k, _context(context), json)
    try:
        preds = predict_all(k, method.value, _context(context))
    except ContextError as exc:
        fail(str(exc))
    if json:
        emit_json(
            [
                {
                    "defense": p.defense,
                    "risk": p.risk,
                    "prediction": p.direction,
                    "resolution": p.resolution,
                    "confidence": round(p.confidence, 3),
                    "known": p.known,
                    "agreement": _agreement(p),
                }
                for p in preds
            ]
        )
        return
    t = Table(
        "defense", *[r.code or r.id for r in k.risks.values()], title=f"Predictions ({method.value}) vs literature"
    )
    marks = {"increase": "↑", "decrease": "↓", "none": "0", "ambiguous": "?", "unknown": "·"}
    for d in k.defenses.values():
        row = []
        for p in (q for q in preds if q.defense == d.id):
            cell = marks[p.direction]
            agree = _agreement(p)
            lit = marks.get(p.known["direction"], "·") if p.known and p.known["direction"] != "unexplored" else "·"
            color = {"agree": "green", "disagree": "red"}.get(agree or "", "dim")
            row.append(f"[{color}]{cell}[/] / {lit}")
        t.add_row(f"{d.code} {d.id}", *row)
    console.print(t)
    agree = sum(_agreement(p) == "agree" for p in preds)
    directed = sum(_agreement(p) is not None for p in preds)
    console.print(f"cells: predicted / literature. Agreement on directed cells: {agree}/{directed}")


def conflicts_cmd(
    method: MethodOpt = Method.graph,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Cells whose paths disagree, ranked by how balanced the disagreement is."""
    k = open_kb(kb, overlay)
    try:
        preds = predict_all(k, method.value, _context(context))
    except ContextError as exc:
        fail(str(exc))
    rows = []
    for p in preds:
        up = sum(x.weight for x in p.paths if x.sign == "+")
        down = sum(x.weight for x in p.paths if x.sign == "-")
        if up and down:
            rows.append(
                {
                    "defense": p.defense,
                    "risk": p.risk,
                    "prediction": p.direction,
                    "resolution": p.resolution,
                    "increase_weight": round(up, 3),
                    "decrease_weight": round(down, 3),
                    "balance": round(min(up, down) / max(up, down), 3),
                }
            )
    rows.sort(key=lambda r: -r["balance"])
    if json:
        emit_json(rows)
        return
    t = Table("defense", "risk", "↑ weight", "↓ weight", "balance", "prediction", "resolved by", title="Conflicts")
    for r in rows:
        t.add_row(
            r["defense"],
            r["risk"],
            f"{r['increase_weight']:.2f}",
            f"{r['decrease_weight']:.2f}",
            f"{r['balance']:.2f}",
            r["prediction"],
            r["resolution"],
        )
    console.print(t)


eval_app = typer.Typer(help="Evaluate the reasoner against reported interactions.", no_args_is_help=True)


def _score_table(title: str, docs: list[dict]) -> Table:
    t = Table("method", "n", "covered", "correct", "accuracy", "95% CI", "coverage", title=title)
    for d in docs:
        ci = d["accuracy_ci95"]
        t.add_row(
            d["method"],
            str(d["n"]),
            str(d["covered"]),
            str(d["correct"]),
            f"{d['accuracy']:.2f}",
            f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-",
            f"{d['coverage']:.2f}",
        )
    return t


@eval_app.command("loo")
def eval_loo(
    method: MethodOpt = Method.graph,
    combos: CombosOpt = False,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Leave-one-paper-out over the directed cells (or the combinations), with the baselines side by side."""
    k = open_kb(kb, overlay)
    if combos:
        from interplay.cli.combo_commands import combo_loo

        return combo_loo(k, json)
    main = leave_one_paper_out(k, method.value).to_dict()
    baselines = [leave_one_paper_out(k, b).to_dict() for b in BASELINES if b != method.value]
    if json:
        emit_json({**main, "baselines": baselines})
        return
    console.print(_score_table("Leave-one-paper-out", [main, *baselines]))
    conf = Table("literature \\ predicted", *main["confusion"][next(iter(main["confusion"]))], title=main["method"])
    for truth, row in main["confusion"].items():
        conf.add_row(truth, *(str(v) for v in row.values()))
    console.print(conf)
    for e in main["errors"]:
        console.print(
            f"[red]miss[/] {e['defense']} -> {e['risk']}: literature {e['truth']}, predicted {e['predicted']}"
        )


@eval_app.command("file")
def eval_file(
    path: Path,
    method: MethodOpt = Method.graph,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Score predictions against a YAML/CSV of records with fields defense, risk, direction."""
    k = open_kb(kb, overlay)
    if not path.is_file():
        fail(f"no such file: {path}")
    try:
        records = read_records(path)
    except (ValueError, UnicodeDecodeError) as exc:
        fail(str(exc))
    except Exception as exc:  # yaml.YAMLError and csv.Error have no common base worth importing here
        fail(f"{path}: cannot parse: {exc}")
    doc = score_records(k, records, method.value).to_dict()
    if json:
        emit_json(doc)
        return
    console.print(_score_table(f"Scored against {path}", [doc]))
    for u in doc["unresolved"]:
        console.print(f"[yellow]unresolved[/] record {u['record']}: {u['reason']}")
