"""`interplay sweep`: vary one factor, validate the cell at each value, and test the KB's edges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from interplay.cli.common import (
    Dataset,
    Json,
    KBDir,
    Overlay,
    Quick,
    Store,
    check_run_options,
    console,
    emit_json,
    err_console,
    fail,
    open_kb,
    resolve,
)


def sweep(
    defense: Annotated[str, typer.Argument(help="A defense: slug, SoK code or alias.")],
    risk: Annotated[str, typer.Argument(help="A risk: slug, SoK code or alias.")],
    factor: Annotated[str, typer.Option("--factor", help="D1, D2, D3, D4 or M1.")],
    values: Annotated[list[str], typer.Option("--values", help="Factor values, comma-separated or repeated.")],
    dataset: Dataset = "synthetic",
    seeds: Annotated[int | None, typer.Option("--seeds", help="Paired seeds per value (at least 2).")] = None,
    quick: Quick = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the plot (PNG and PDF).")] = Path("."),
    store: Store = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Validate DEFENSE -> RISK at each value of a factor and check the risk moves as the KB's edges claim."""
    k = open_kb(kb, overlay)
    d, r = resolve(k, defense, "defense"), resolve(k, risk, "risk")
    vals = [v.strip() for item in values for v in item.split(",") if v.strip()]
    check_run_options(dataset, seeds)

    from interplay.interactions import predict
    from interplay.validators.data import DataError
    from interplay.validators.experiment import ValidationConfig
    from interplay.validators.registry import UnregisteredPair
    from interplay.validators.settings import DEFAULT_SEEDS, QUICK_SEEDS, default_settings
    from interplay.validators.store import ResultStore
    from interplay.validators.sweep import KNOBS, SweepError, plot_sweep, run_sweep

    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    factor = factor.upper()
    if factor not in KNOBS:
        fail(f"unknown factor {factor!r}; sweepable factors: {', '.join(KNOBS)}")
    try:
        cfg = ValidationConfig(d, r, default_settings(dataset, quick), tuple(k.defenses[d].targets))
    except (UnregisteredPair, DataError) as exc:
        fail(str(exc))
    prediction = predict(k, d, r).direction
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"sweep {factor} for {d} -> {r}", total=len(vals) * n_seeds)
        try:
            step = lambda: bar.advance(task)  # noqa: E731
            summary = run_sweep(k, cfg, factor, vals, n_seeds, prediction, ResultStore(store), step)
        except (SweepError, DataError) as exc:
            fail(str(exc))
    summary["plots"] = [str(p) for p in plot_sweep(summary, out / f"sweep-{d}-{r}-{factor}")]
    if json:
        emit_json(summary)
        return
    t = Table(factor, "baseline", "defended", "difference", "95% CI", "p", title=f"Sweep of {factor}: {d} -> {r}")
    for p in summary["points"]:
        e = p["effect"]
        t.add_row(str(p["value"]), f"{e['baseline']:.4f}", f"{e['defended']:.4f}", f"{e['difference']:+.4f}",
                  f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]", f"{e['p_value']:.3g}")  # fmt: skip
    console.print(t)
    rt, et = summary["risk_trend"], summary["effect_trend"]
    console.print(f"KB claims {summary['factor_node']} -> {r}: [bold]{summary['claim']['direction']}[/] "
                  f"(edges: {', '.join(summary['claim']['edges']) or 'none'})")  # fmt: skip
    verdict = summary["verdict"]
    console.print(f"baseline risk vs {factor}: rho {rt['rho']:+.2f}, p {rt['p_value']:.3g} -> [bold]{verdict}[/]")
    console.print(f"defense effect vs {factor}: rho {et['rho']:+.2f}, p {et['p_value']:.3g} ({et['direction']})")
    console.print(f"plots: {', '.join(summary['plots'])}")
