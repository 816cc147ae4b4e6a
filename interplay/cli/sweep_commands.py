"""`interplay sweep`: vary one factor, validate the cell at each value, and test the KB's edges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interplay import api
from interplay.cli.common import (
    Address,
    Dataset,
    Drop,
    ExecutorOpt,
    Json,
    KBDir,
    Label,
    Model,
    NTrain,
    Overlay,
    Param,
    Preset,
    ProgressBar,
    Quick,
    Sensitive,
    SettingOpt,
    Store,
    console,
    data_options,
    emit_json,
    errors,
    esc,
    open_kb,
    preset_of,
)


def sweep(
    defense: Annotated[str, typer.Argument(help="A defense: slug, SoK code or alias.")],
    risk: Annotated[str, typer.Argument(help="A risk: slug, SoK code or alias.")],
    factor: Annotated[str, typer.Option("--factor", help="D1, D2, D3, D4 or M1.")],
    values: Annotated[list[str], typer.Option("--values", help="Factor values, comma-separated or repeated.")],
    dataset: Dataset = "synthetic",
    seeds: Annotated[int | None, typer.Option("--seeds", help="Paired seeds per value (at least 2).")] = None,
    preset: Preset = None,
    quick: Quick = False,
    param: Param = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the plot (PNG and PDF).")] = Path("."),
    store: Store = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
    setting: SettingOpt = "auto",
    label: Label = None,
    sensitive: Sensitive = None,
    drop: Drop = None,
    n_train: NTrain = None,
    model: Model = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Seeds at once in separate processes (default 1), or Ray workers.")
    ] = None,
    executor: ExecutorOpt = "local",
    address: Address = None,
) -> None:
    """Validate DEFENSE -> RISK at each value of a factor and check the risk moves as the KB's edges claim."""
    k = open_kb(kb, overlay, json)
    with errors(json), ProgressBar() as bar:
        d, r = k.resolve(defense, "defense"), k.resolve(risk, "risk")
        result = api.sweep(
            d,
            r,
            factor,
            values,
            dataset=dataset,
            preset=preset_of(preset, quick, json),
            seeds=seeds,
            params=param,
            store=store,
            out=out / f"sweep-{d}-{r}-{factor.upper()}",
            kb=k,
            progress=bar,
            setting=setting,
            jobs=jobs,
            executor=executor,
            address=address,
            **data_options(label, sensitive, drop, n_train, model),
        )
    summary = result.to_dict()
    factor = summary["factor"]
    if json:
        emit_json(summary)
        return
    t = Table(esc(factor), "baseline", "defended", "difference", "95% CI", "p",
              title=esc(f"Sweep of {factor}: {d} -> {r}"))  # fmt: skip
    for p in summary["points"]:
        e = p["effect"]
        t.add_row(esc(p["value"]), f"{e['baseline']:.4f}", f"{e['defended']:.4f}", f"{e['difference']:+.4f}",
                  f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]", f"{e['p_value']:.3g}")  # fmt: skip
    console.print(t)
    rt, et = summary["risk_trend"], summary["effect_trend"]
    console.print(f"KB claims {esc(summary['factor_node'])} -> {esc(r)}: [bold]{esc(summary['claim']['direction'])}[/] "
                  f"(edges: {esc(', '.join(summary['claim']['edges']) or 'none')})")  # fmt: skip
    verdict = esc(summary["verdict"])
    console.print(f"baseline risk vs {esc(factor)}: rho {rt['rho']:+.2f}, p {rt['p_value']:.3g} -> [bold]{verdict}[/]")
    console.print(f"defense effect vs {esc(factor)}: rho {et['rho']:+.2f}, p {et['p_value']:.3g} "
                  f"({esc(et['direction'])})")  # fmt: skip
    console.print(f"plots: {', '.join(summary['plots'])}", markup=False, highlight=False)
