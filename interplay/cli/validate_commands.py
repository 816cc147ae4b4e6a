"""`interplay validate` and `interplay results`: run and list empirical validations (thin wrappers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from interplay.cli.common import (
    DataPath,
    Dataset,
    Jobs,
    Json,
    KBDir,
    Overlay,
    Quick,
    Seeds,
    Store,
    check_run_options,
    console,
    emit_json,
    err_console,
    fail,
    open_kb,
    resolve,
)
from interplay.cli.reason_commands import ContextOpt, _context


def validate(
    defense: Annotated[str | None, typer.Argument(help="A defense: slug, SoK code or alias (none with --all).")] = None,
    risk: Annotated[str | None, typer.Argument(help="A risk: slug, SoK code or alias (none with --all).")] = None,
    dataset: Dataset = "synthetic",
    seeds: Seeds = None,
    quick: Quick = False,
    data_path: DataPath = None,
    store: Store = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
    all_cells: Annotated[
        bool, typer.Option("--all", help="Every defense x risk cell, with one progress display.")
    ] = False,
    only_defenses: Annotated[
        str | None, typer.Option("--defenses", help="With --all: only these defenses (comma-separated).")
    ] = None,
    only_risks: Annotated[
        str | None, typer.Option("--risks", help="With --all: only these risks (comma-separated).")
    ] = None,
    context: ContextOpt = None,
    jobs: Jobs = None,
) -> None:
    """Train baseline and defended models over paired seeds, measure the risk, judge the prediction."""
    k = open_kb(kb, overlay)
    if all_cells:
        if defense or risk:
            fail("--all takes no DEFENSE or RISK; restrict it with --defenses and --risks")
        if jobs is not None:
            fail("--jobs applies to a single cell; --all shares models across cells in one process")
        _validate_all(k, dataset, seeds, quick, data_path, store, json, only_defenses, only_risks, context)
        return
    if defense is None or risk is None:
        fail("give a DEFENSE and a RISK, or --all")
    d, r = resolve(k, defense, "defense"), resolve(k, risk, "risk")
    check_run_options(dataset, seeds, jobs)

    from interplay.interactions import predict
    from interplay.validators import data as vdata
    from interplay.validators.experiment import ValidationConfig, available_cpus, run_validation
    from interplay.validators.registry import UnregisteredPair
    from interplay.validators.risks.base import ProbeUnsupported
    from interplay.validators.settings import DEFAULT_SEEDS, QUICK_SEEDS, default_settings, load_task, with_context
    from interplay.validators.store import ResultStore

    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    ctx = _context(context)  # a threat-model qualifier (adversary=...) selects settings and the prediction's edges

    try:
        cfg = ValidationConfig(d, r, with_context(default_settings(dataset, quick), ctx), tuple(k.defenses[d].targets),
                               str(data_path) if data_path else None)
        if dataset == "adult":  # fail fast, before any training, when the files are missing
            load_task(cfg.settings, 0, data_path)
        prediction = predict(k, d, r, method="graph", context=ctx or None).direction
    except (UnregisteredPair, vdata.DataError, ValueError) as exc:
        fail(str(exc))
    results = ResultStore(store)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(f"{d} -> {r} on {dataset}", total=n_seeds)
        try:
            doc = run_validation(cfg, n_seeds, prediction, results, lambda seed, cached: bar.advance(task),
                                 jobs or available_cpus())
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


ARROWS = {"increase": "↑", "decrease": "↓", "none": "=", "mixed": "±", "ambiguous": "?", "unknown": "?",
          "unexplored": "·", None: " "}
VERDICT_MARK = {"confirmed": "[green]✓[/]", "refuted": "[red]✗[/]", "inconclusive": "[yellow]?[/]",
                "not registered": "[dim]-[/]", "unsupported": "[dim]n/a[/]"}


def _names(k, given: str | None, kind: str, every) -> list[str]:
    """The KB's defenses or risks, in KB order, restricted to the comma-separated ``given`` names."""
    if not given:
        return list(every)
    wanted = {resolve(k, name.strip(), kind) for name in given.split(",") if name.strip()}
    return [slug for slug in every if slug in wanted]


def _validate_all(k, dataset: str, seeds: int | None, quick: bool, data_path: Path | None, store: Path | None,
                  json: bool, only_defenses: str | None, only_risks: str | None, context: list[str] | None) -> None:
    """``validate --all``: every (or the selected) defense x risk cell, one progress display, a matrix."""
    import time
    import warnings

    from interplay.interactions import predict
    from interplay.validators import data as vdata
    from interplay.validators.matrix import Cell, run_matrix
    from interplay.validators.settings import DEFAULT_SEEDS, QUICK_SEEDS, default_settings, load_task, with_context
    from interplay.validators.store import ResultStore

    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)
    if n_seeds < 2:
        fail(f"--seeds must be at least 2 for a paired comparison (got {n_seeds})")
    ctx = _context(context)
    try:
        settings = with_context(default_settings(dataset, quick), ctx)
        if dataset == "adult":  # fail fast, before any training, when the files are missing
            load_task(settings, 0, data_path)
    except (vdata.DataError, ValueError) as exc:
        fail(str(exc))
    cells = []
    for d in _names(k, only_defenses, "defense", k.defenses):
        for r in _names(k, only_risks, "risk", k.risks):
            obs = k.observation(d, r)
            cells.append(Cell(d, r, predict(k, d, r, method="graph", context=ctx or None).direction,
                              obs.direction if obs else "unexplored", tuple(k.defenses[d].targets)))
    start = time.perf_counter()
    # Library warnings (Opacus' backward hooks, once per trained model) would scroll the progress display away.
    registered = sum(c.registered for c in cells)
    with warnings.catch_warnings(), Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                             TimeElapsedColumn(), console=err_console, transient=True) as bar:
        warnings.simplefilter("ignore")
        task = bar.add_task(f"{dataset}: {registered} cells", total=n_seeds * registered)
        records = run_matrix(cells, settings, n_seeds, ResultStore(store), str(data_path) if data_path else None,
                             lambda c, n: bar.update(task, advance=n, description=f"{c.defense} -> {c.risk}"))
    if json:
        emit_json(records)
        return
    _render_matrix(k, records, list(dict.fromkeys(c.defense for c in cells)),
                   list(dict.fromkeys(c.risk for c in cells)), n_seeds, dataset, time.perf_counter() - start)


def _render_matrix(k, records: list[dict], defenses: list[str], risks: list[str], seeds: int, dataset: str,
                   runtime_s: float) -> None:
    """Rows are defenses, columns risks (SoK codes); a cell reads literature, prediction, observed, verdict."""
    by_cell = {(r["defense"], r["risk"]): r for r in records}
    t = Table("", *(k.risks[r].code for r in risks), box=box.SIMPLE_HEAD, padding=(0, 1),
              title=f"validate --all on {dataset}, {seeds} seeds")
    for d in defenses:
        cells = [by_cell[(d, r)] for r in risks]
        t.add_row(k.defenses[d].code, *(f"{ARROWS[c['literature']]}{ARROWS.get(c['prediction'], '?')}"
                                         f"{ARROWS[c['observed']]} {VERDICT_MARK[c['verdict']]}" for c in cells))
    console.print(t)
    console.print("Each cell: literature, prediction, observed (↑ increase, ↓ decrease, = none, ? ambiguous or "
                  "unknown, · unexplored), then the verdict (✓ confirmed, ✗ refuted, ? inconclusive, - not "
                  "registered, n/a unsupported). " + "; ".join(
                      f"{k.defenses[d].code} {d}" for d in defenses) + ". " + "; ".join(
                      f"{k.risks[r].code} {r}" for r in risks) + ".", highlight=False)
    run = [c for c in records if c["observed"] is not None]
    directed = [c for c in run if c["literature"] in ("increase", "decrease")]
    agree = sum(c["observed"] == c["literature"] for c in directed)
    against = sum(c["observed"] not in (c["literature"], "none") for c in directed)
    verdicts = {v: sum(c["verdict"] == v for c in records) for v in dict.fromkeys(c["verdict"] for c in records)}
    console.print(f"{len(run)} cells validated; on the {len(directed)} with a reported direction the observed one "
                  f"agrees on {agree}, goes against it on {against}, no significant effect on "
                  f"{len(directed) - agree - against}; {len(run) - len(directed)} unexplored. Verdicts: "
                  + ", ".join(f"{n} {v}" for v, n in verdicts.items()) + f". {runtime_s:.0f} s.")
