"""`interplay status` and `interplay report`: every cell's literature, predictions and experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from interplay import api
from interplay.cli.common import (
    Defenses,
    Json,
    KBDir,
    Overlay,
    Store,
    console,
    emit_json,
    err_console,
    errors,
    open_kb,
)
from interplay.interactions.status import NOT_VALIDATED
from interplay.verdicts import accounting_line

VERDICT_STYLE = {"confirmed": "green", "refuted": "red", "inconclusive": "yellow"}
AGREEMENT_STYLE = {"all agree": "green", "agree": "green", "disagree": "bold red", "open": "dim"}


def _lit(rec: dict) -> str:
    text = rec["literature"] + (f" [{', '.join(rec['references'])}]" if rec["references"] else "")
    for x in rec["exceptions"]:
        ctx = ", ".join(f"{k}={v}" for k, v in x.get("context", {}).items())
        text += f"; {x['direction']} if {ctx}"
    return escape(text)


def _settings_text(rec: dict) -> str:
    """The regime of the cell's verdict, and the literature setting's verdict beside the generic one."""
    text = f" [{rec['regime']} regime]" if rec.get("regime") else ""
    shown = (rec["validation"] or {}).get("setting")
    for name, v in rec.get("settings", {}).items():
        if name == shown:
            continue
        text += f"; {name}: {v['verdict']}" + (f" [{v['regime']} regime]" if v.get("regime") else "")
    return text


def _observed_text(rec: dict) -> str:
    """The observed direction, its evidence and the minimal detectable effect at the seeds run."""
    effect = (rec.get("validation") or {}).get("effect") or {}
    text = rec["observed"] or "-"
    if effect.get("evidence"):
        text += f" ({effect['evidence']}"
        text += f", MDE {effect['mde']:.3g})" if isinstance(effect.get("mde"), int | float) else ")"
    return text


def status_cmd(
    store: Store = None, defenses: Defenses = "sok", json: Json = False, kb: KBDir = None, overlay: Overlay = None
) -> None:
    """Every defense x risk cell: literature, prediction per method, experiment verdict, and whether they agree."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        result = api.status(store=store, kb=k, defenses=defenses)
    records = result.to_dict()
    if json:
        emit_json(records)
        return
    t = Table("defense", "risk", "literature", "graph", "guideline", "observed", "verdict", "agreement",
              title="Status of every cell (prediction-experiment disagreements first)")  # fmt: skip
    for r in records:
        verdict = r["verdict"] + (" (stale)" if r["stale"] else "") + _settings_text(r)
        t.add_row(
            *(escape(x) for x in (r["defense"], r["risk"])), _lit(r),
            *(escape(r["predictions"][m]) for m in ("graph", "guideline")), escape(_observed_text(r)),
            f"[{VERDICT_STYLE.get(r['verdict'], 'dim')}]{escape(verdict)}[/]",
            f"[{AGREEMENT_STYLE.get(r['agreement'], 'dim')}]{escape(r['agreement'])}[/]",
        )  # fmt: skip
    console.print(t)
    c = result.summary
    console.print(
        f"{c['cells']} cells: {c['validated']} validated ({c['confirmed']} confirmed, {c['refuted']} refuted, "
        f"{c['inconclusive']} inconclusive, {c['not-applicable']} not applicable), {c[NOT_VALIDATED]} not "
        f"validated; agreement: {c['all agree']} all three agree, {c['agree']} agree where comparable, "
        f"{c['disagree']} disagree, {c['open']} open"
    )
    console.print("Experiments against the literature: " + accounting_line(records), highlight=False)
    with errors(json):
        measured = api.read_validations(store).measurements
    if measured:
        m = Table("defense -> factor edge", "KB", "measured", "verdict", title="Measured factors (interplay measure)")
        style = {"confirms": "green", "contradicts": "red"}
        for edge, items in measured.items():
            for x in items:
                claimed, seen = (escape(str(x.effect.get(k, ""))) for k in ("kb", "observed"))
                m.add_row(escape(edge), claimed, seen, f"[{style.get(x.verdict, 'yellow')}]{escape(x.verdict)}[/]")
        console.print(m)


def report_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    method: Annotated[str, typer.Option("--method", help="Prediction method: graph, guideline, shortest-path.")] = (
        "graph"
    ),
    store: Store = None,
    defenses: Defenses = "sok",
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """One self-contained HTML page: the matrix as a heat map, each cell's explanation and validation, references."""
    k = open_kb(kb, overlay)
    with errors():
        api.report(output, method=method, store=store, kb=k, defenses=defenses)
    err_console.print(f"wrote {output}", highlight=False, markup=False)
