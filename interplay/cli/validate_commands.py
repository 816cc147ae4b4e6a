"""`interplay validate` and `interplay results`: run and list empirical validations (thin wrappers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from interplay.cli.common import Json, KBDir, Overlay, console, emit_json, err_console, fail, open_kb, resolve

DATASETS = ("synthetic", "digits", "adult")
Store = Annotated[
    Path | None, typer.Option("--store", help="The results database (default: under the user cache dir).")
]


def validate(
    defense: Annotated[str, typer.Argument(help="A defense: slug, SoK code or alias.")],
    risk: Annotated[str, typer.Argument(help="A risk: slug, SoK code or alias.")],
    dataset: Annotated[str, typer.Option("--dataset", help="synthetic, digits or adult.")] = "synthetic",
    seeds: Annotated[
        int | None, typer.Option("--seeds", help="Paired seeds (at least 2; default 8, 3 with --quick).")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller data and fewer epochs.")] = False,
    data_path: Annotated[
        Path | None, typer.Option("--data-path", help="Folder with adult.data and adult.test.")
    ] = None,
    store: Store = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Train baseline and defended models over paired seeds, measure the risk, judge the prediction."""
    k = open_kb(kb, overlay)
    d, r = resolve(k, defense, "defense"), resolve(k, risk, "risk")
    if seeds is not None and seeds < 2:
        fail(f"--seeds must be at least 2 for a paired comparison (got {seeds})")
    if dataset not in DATASETS:
        fail(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")

    from interplay.interactions import predict
    from interplay.validators import data as vdata
    from interplay.validators.experiment import ValidationConfig, run_validation
    from interplay.validators.registry import UnregisteredPair
    from interplay.validators.risks.base import ProbeUnsupported
    from interplay.validators.settings import DEFAULT_SEEDS, QUICK_SEEDS, default_settings, load_task
    from interplay.validators.store import ResultStore

    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)

    try:
        cfg = ValidationConfig(d, r, default_settings(dataset, quick), tuple(k.defenses[d].targets),
                               str(data_path) if data_path else None)
        if dataset == "adult":  # fail fast, before any training, when the files are missing
            load_task(cfg.settings, 0, data_path)
    except (UnregisteredPair, vdata.DataError) as exc:
        fail(str(exc))
    prediction = predict(k, d, r, method="graph", context=None).direction
    results = ResultStore(store)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(f"{d} -> {r} on {dataset}", total=n_seeds)
        try:
            doc = run_validation(cfg, n_seeds, prediction, results, lambda seed, cached: bar.advance(task))
        except ProbeUnsupported as exc:
            fail(str(exc))
    if json:
        emit_json(doc)
        return
    _render(doc)


def _render(doc: dict) -> None:
    e = doc["effect"]
    t = Table("", "baseline", "defended", "difference", "95% CI", "p", title=f"{doc['defense']} -> {doc['risk']}")
    t.add_row(e["metric"], f"{e['baseline']:.4f}", f"{e['defended']:.4f}", f"{e['difference']:+.4f}",
              f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]", f"{e['p_value']:.3g}")
    for slug, v in doc["effectiveness"].items():
        if slug != doc["risk"]:
            t.add_row(f"{slug} ({v['metric']})", f"{v['baseline']:.4f}", f"{v['defended']:.4f}",
                      f"{v['difference']:+.4f}", f"[{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]", f"{v['p_value']:.3g}")
    u = doc["utility"]
    t.add_row("utility (accuracy)", f"{u['baseline']:.4f}", f"{u['defended']:.4f}", f"{u['difference']:+.4f}", "", "")
    console.print(t)
    eps = f", epsilon {doc['epsilon']:.2f}" if "epsilon" in doc else ""
    console.print(f"prediction [bold]{doc['prediction']}[/], observed [bold]{doc['observed']}[/] -> "
                  f"[bold]{doc['verdict']}[/] (defense effective: {doc['defense_effective']}; "
                  f"{doc['seeds']} seeds on {doc['dataset']}{eps}; {doc['runtime_s']:.1f} s)")


def results(store: Store = None, json: Json = False) -> None:
    """List the stored validations, newest first."""
    from interplay.validators.store import ResultStore

    rows = ResultStore(store).validations()
    if json:
        emit_json(rows)
        return
    t = Table("defense", "risk", "dataset", "seeds", "prediction", "observed", "verdict", "p", "effective",
              title="Validations")
    for v in rows:
        t.add_row(v["defense"], v["risk"], v["dataset"], str(v["seeds"]), v["prediction"], v["observed"],
                  v["verdict"], f"{v['effect']['p_value']:.3g}", str(v["defense_effective"]))
    console.print(t)
