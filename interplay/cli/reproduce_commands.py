"""`interplay reproduce sok-5.1|sok-5.2`: the SoK's own validations beside the paper's figures."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from interplay import api
from interplay.cli.common import (
    Address,
    DataPath,
    ExecutorOpt,
    Json,
    Preset,
    ProgressBar,
    Store,
    console,
    emit_json,
    errors,
    esc,
    preset_of,
)


def reproduce_cmd(
    name: Annotated[
        str,
        typer.Argument(
            help="sok-5.1 (fairness -> reconstruction) or sok-5.2 (explanations -> distribution inference)."
        ),
    ],  # fmt: skip
    preset: Preset = None,
    quick: Annotated[bool, typer.Option("--quick", help="One setting, smaller data and fewer epochs.")] = False,
    seeds: Annotated[
        int | None, typer.Option("--seeds", help="Paired seeds per setting (default 10 for 5.1, 3 for 5.2; 2 quick).")
    ] = None,
    data_path: DataPath = None,
    store: Store = None,
    json: Json = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Seeds at once in separate processes (default 1), or Ray workers.")
    ] = None,
    executor: ExecutorOpt = "local",
    address: Address = None,
) -> None:
    """Reproduce one of the SoK's Sec. 5 validations on Adult, scaled to a CPU."""
    with errors(json), ProgressBar() as bar:
        doc = api.reproduce(
            name,
            preset=preset_of(preset, quick, json),
            seeds=seeds,
            data_path=data_path,
            store=store,
            progress=bar,
            jobs=jobs,
            executor=executor,
            address=address,
        ).to_dict()
    if json:
        emit_json(doc)
        return
    (_table_51 if name == "sok-5.1" else _table_52)(doc)
    console.print(f"prediction: [bold]{esc(doc['prediction'])}[/]; {doc['seeds']} paired seeds per setting")


def _ci(e: dict) -> str:
    return f"{e['difference']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}] p={e['p_value']:.2g}"


def _table_51(doc: dict) -> None:
    title = "SoK 5.1: group fairness -> data reconstruction"
    t = Table("k", "paper loss base -> fair", "ours MSE base -> fair", "ours score effect", "verdict",
              "paper acc % base / fair", "ours acc % base / fair", title=title)  # fmt: skip
    for r in doc["rows"]:
        p, raw, u = r["paper"], r["raw"], r["utility"]
        t.add_row(esc(r["setting"]), f"{p['baseline_loss']:.2f} -> {p['fair_loss']:.2f}",
                  f"{raw['baseline']['mse_held_out']:.3f} -> {raw['defended']['mse_held_out']:.3f}", _ci(r["effect"]),
                  esc(r["verdict"]), f"{p['baseline_acc']:.1f} / {p['fair_acc']:.1f}",
                  f"{100 * u['baseline']:.1f} / {100 * u['defended']:.1f}")  # fmt: skip
    console.print(t)


def _table_52(doc: dict) -> None:
    t = Table("setting", "paper acc (with expl.)", "ours acc without", "ours acc with", "AUC effect", "verdict",
              title="SoK 5.2: explanations -> distribution inference (accuracy as the paper reports; AUC "
                    "scored)")  # fmt: skip
    for r in doc["rows"]:
        acc = [r["raw"][arm]["distinguishing_accuracy"] for arm in ("baseline", "defended")]
        t.add_row(esc(r["setting"]), f"{r['paper_attack_accuracy']:.2f}", f"{acc[0]:.2f}", f"{acc[1]:.2f}",
                  _ci(r["effect"]), esc(r["verdict"]))  # fmt: skip
    console.print(t)
    for factor, sweep in doc.get("ablations", {}).items():
        paper = doc["paper_ablations"][factor]
        a = Table(
            factor,
            "paper (IG, acc %)",
            "ours AUC with expl.",
            "ours AUC without",
            title=f"Ablation {factor} at r = 0.1",
        )
        for (value, pct), pt in zip(paper.items(), sweep["points"], strict=True):
            a.add_row(esc(f"{pt['value']} (paper {value})"), f"{pct:.1f}", f"{pt['effect']['defended']:.2f}",
                      f"{pt['effect']['baseline']:.2f}")  # fmt: skip
        console.print(a)
        trend = sweep["risk_trend"]
        console.print(f"  {factor}: KB claims {esc(sweep['claim']['direction'])}; baseline trend rho "
                      f"{trend['rho']:+.2f} (p {trend['p_value']:.2g}) -> {esc(sweep['verdict'])}; effect trend rho "
                      f"{sweep['effect_trend']['rho']:+.2f}")  # fmt: skip
