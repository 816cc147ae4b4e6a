"""`interplay validate` and `interplay results`: run and list empirical validations (thin wrappers)."""

from __future__ import annotations

import time
import warnings
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from interplay import api
from interplay.cli.common import (
    Address,
    ContextOpt,
    DataPath,
    Dataset,
    Drop,
    ExecutorOpt,
    Jobs,
    Json,
    KBDir,
    Label,
    MaxSeeds,
    Model,
    NTrain,
    Overlay,
    Param,
    Preset,
    ProgressBar,
    Quick,
    SeedPlan,
    Sensitive,
    SettingOpt,
    Store,
    console,
    data_options,
    emit_json,
    err_console,
    errors,
    esc,
    fail,
    open_kb,
    parse_context,
    parse_seeds,
    preset_of,
)
from interplay.errors import UsageError
from interplay.validators.store import StoreWriteWarning
from interplay.verdicts import accounting_line


def validate(
    defense: Annotated[str | None, typer.Argument(help="A defense: slug, SoK code or alias (none with --all).")] = None,
    risk: Annotated[str | None, typer.Argument(help="A risk: slug, SoK code or alias (none with --all).")] = None,
    dataset: Dataset = "synthetic",
    seeds: SeedPlan = None,
    max_seeds: MaxSeeds = None,
    preset: Preset = None,
    quick: Quick = False,
    param: Param = None,
    data_path: DataPath = None,
    store: Store = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
    all_cells: Annotated[
        bool, typer.Option("--all", help="Every defense x risk cell, with one progress display.")
    ] = False,
    only_defenses: Annotated[
        str | None,
        typer.Option(
            "--defenses",
            help="With --all: sok (the SoK's seven, the default), all (15), or names separated by commas.",
        ),
    ] = None,
    only_risks: Annotated[
        str | None, typer.Option("--risks", help="With --all: only these risks (comma-separated).")
    ] = None,
    context: ContextOpt = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = "local",
    address: Address = None,
    setting: SettingOpt = "auto",
    label: Label = None,
    sensitive: Sensitive = None,
    drop: Drop = None,
    n_train: NTrain = None,
    model: Model = None,
    mediators: Annotated[
        bool, typer.Option("--mediators", help="Also measure the factors on the cell's paths, path by path.")
    ] = False,
) -> None:
    """Train baseline and defended models over paired seeds, measure the risk, judge the prediction."""
    k = open_kb(kb, overlay, json)
    chosen = preset_of(preset, quick, json)
    ctx = parse_context(context, json)
    plan = parse_seeds(seeds, json)
    if all_cells:
        if defense or risk:
            fail("--all takes no DEFENSE or RISK; restrict it with --defenses and --risks", json=json)
        if jobs is not None and executor == "local":
            fail("--jobs applies to a single cell; --all shares models across cells in one process", json=json)
        start = time.perf_counter()
        # Library warnings (Opacus' backward hooks, once per trained model) would scroll the progress display away.
        with errors(json), warnings.catch_warnings(), ProgressBar() as bar:
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", StoreWriteWarning)  # a store that cannot be written must be said
            m = api.validate_matrix(
                defenses="sok" if only_defenses is None else only_defenses,
                risks=only_risks,
                dataset=dataset,
                preset=chosen,
                seeds=plan,
                max_seeds=max_seeds,
                params=param,
                context=ctx,
                data_path=data_path,
                store=store,
                kb=k,
                progress=bar,
                setting=setting,
                jobs=jobs,
                executor=executor,
                address=address,
                **data_options(label, sensitive, drop, n_train, model),
            )
        for r in m.to_dict():
            if r["verdict"] == "failed":  # a seed raised on the cluster; the other cells completed
                err_console.print(f"[bold red]failed:[/] {esc(r['defense'])} -> {esc(r['risk'])}: {esc(r['reason'])}")
        if json:
            emit_json(m.to_dict())
            return
        records = m.to_dict()
        used = sorted({r["seeds"] for r in records if "seeds" in r}) or [plan]
        n_seeds = str(used[0]) if len(used) == 1 else f"{used[0]}-{used[-1]} (sequential)"
        _render_matrix(
            k,
            records,
            list(dict.fromkeys(c.defense for c in m.cells)),
            list(dict.fromkeys(c.risk for c in m.cells)),
            n_seeds,
            next((r["dataset"] for r in records if "dataset" in r), dataset),
            time.perf_counter() - start,
        )
        return
    if only_defenses is not None or only_risks is not None:
        fail("--defenses and --risks restrict --all; a single cell takes DEFENSE and RISK alone", json=json)
    if defense is None or risk is None:
        fail("give a DEFENSE and a RISK, or --all", json=json)
    with errors(json), ProgressBar() as bar:
        v = api.validate(
            defense,
            risk,
            dataset=dataset,
            preset=chosen,
            seeds=plan,
            max_seeds=max_seeds,
            params=param,
            context=ctx,
            data_path=data_path,
            store=store,
            jobs=jobs,
            executor=executor,
            address=address,
            kb=k,
            progress=bar,
            setting=setting,
            mediators=mediators,
            **data_options(label, sensitive, drop, n_train, model),
        )
    if json:
        emit_json(v.to_dict())
        return
    _render(v.to_dict())
    if mediators:
        _render_mediators(v.to_dict()["mediators"])


def _render_mediators(doc: dict) -> None:
    """Path by path, the measured factors: the direction the path predicts beside the one observed."""
    t = Table("path", "role", "factor", "path predicts", "observed", "", title="Mediators on the paths")
    style = {"agrees": "green", "disagrees": "red"}
    empty = {"factor": "-", "expected": "-", "observed": "-", "status": "nothing measured"}
    for path in doc["paths"]:
        for step in path["steps"] or [empty]:
            cells = (" -> ".join(path["nodes"]), path["role"], step["factor"], step["expected"], step["observed"])
            t.add_row(*map(esc, cells), f"[{style.get(step['status'], 'dim')}]{esc(step['status'])}[/]")
    console.print(t)
    if "effect" in doc:
        console.print(_effect_line(doc["effect"], doc["predicted_effect"]))


def _effect_line(e: dict, predicted: dict) -> str:
    """The linear path model's predicted effect beside the observed one."""
    ci = lambda c: f" [{c[0]:+.4f}, {c[1]:+.4f}]" if c else ""  # noqa: E731
    observed = f"observed {e['observed']:+.4f}{ci(e['observed_ci95'])}"
    if e["predicted"] is None:
        unmeasured = sorted({m for p in predicted["paths"] for m in p["missing"]})
        missing = esc(", ".join(unmeasured)) or "any path"
        return f"predicted effect: none quantified (no coefficient for {missing}); {observed}"
    agree = {True: "[green]same sign[/]", False: "[red]opposite sign[/]", None: "sign undecided"}[e["same_sign"]]
    return (
        f"predicted effect {e['predicted']:+.4f}{ci(e['predicted_ci95'])} over {predicted['quantified']} "
        f"path(s) (linear path model); {observed}: {agree}"
    )


def _render(doc: dict) -> None:
    e = doc["effect"]
    t = Table("", "baseline", "defended", "difference", "95% CI", "p", title=esc(f"{doc['defense']} -> {doc['risk']}"))
    t.add_row(
        esc(e["metric"]),
        f"{e['baseline']:.4f}",
        f"{e['defended']:.4f}",
        f"{e['difference']:+.4f}",
        f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}]",
        f"{e['p_value']:.3g}",
    )
    for slug, v in doc["effectiveness"].items():
        if slug != doc["risk"]:
            t.add_row(
                esc(f"{slug} ({v['metric']})"),
                f"{v['baseline']:.4f}",
                f"{v['defended']:.4f}",
                f"{v['difference']:+.4f}",
                f"[{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]",
                f"{v['p_value']:.3g}",
            )
    u = doc["utility"]
    t.add_row("utility (accuracy)", f"{u['baseline']:.4f}", f"{u['defended']:.4f}", f"{u['difference']:+.4f}", "", "")
    console.print(t)
    eps = f", epsilon {doc['epsilon']:.2f}" if "epsilon" in doc else ""
    console.print(
        f"prediction [bold]{esc(doc['prediction'])}[/], observed [bold]{esc(doc['observed'])}[/] -> "
        f"[bold]{esc(doc['verdict'])}[/] (defense effective: {esc(doc['defense_effective'])}; "
        f"{esc(doc['seeds'])} seeds on {esc(doc['dataset'])}{eps}; {doc['runtime_s']:.1f} s)"
    )
    setting = doc.get("setting") or {}
    if setting.get("name") == "literature":
        facts = ", ".join(f"{k} {_fact(v)}" for k, v in setting.get("facts", {}).items())
        regime = (doc.get("regime") or {}).get("regime")
        console.print(f"literature setting: {esc(facts or 'no declared facts')}; regime {esc(regime)}")


def _fact(value: dict) -> str:
    """A declared fact (or the threat facts by key) as ``value [ref, locator]``."""
    if "value" not in value:
        return ", ".join(f"{k}={_fact(v)}" for k, v in value.items())
    return f"{value['value']} [{value['ref']}, {value['locator']}]"


def results(
    store: Store = None,
    json: Json = False,
    csv: Annotated[bool, typer.Option("--csv", help="Write the table as CSV, one row per cell (docs/api.md).")] = False,
) -> None:
    """List the stored validations, newest first."""
    with errors(json):
        if json and csv:
            raise UsageError("--json and --csv are two formats of one table: choose one")
        matrix = api.results(store)
    if csv:
        typer.echo(matrix.to_frame().to_csv(index=False), nl=False)
        return
    rows = matrix.to_dict()
    if json:
        emit_json(rows)
        return
    t = Table(
        "defense",
        "risk",
        "dataset",
        "seeds",
        "prediction",
        "observed",
        "verdict",
        "p",
        "effective",
        title="Validations",
    )
    for v in rows:
        t.add_row(
            *(esc(v[key]) for key in ("defense", "risk", "dataset", "seeds", "prediction", "observed", "verdict")),
            f"{v['effect']['p_value']:.3g}",
            esc(v["defense_effective"]),
        )
    console.print(t)


ARROWS = {
    "increase": "↑",
    "decrease": "↓",
    "none": "=",
    "mixed": "±",
    "ambiguous": "?",
    "unknown": "?",
    "unexplored": "·",
    None: " ",
}
VERDICT_MARK = {
    "confirmed": "[green]✓[/]",
    "refuted": "[red]✗[/]",
    "inconclusive": "[yellow]?[/]",
    "not-applicable": "[dim]∅[/]",
    "not registered": "[dim]-[/]",
    "unsupported": "[dim]n/a[/]",
}


def _render_matrix(
    k, records: list[dict], defenses: list[str], risks: list[str], seeds: str, dataset: str, runtime_s: float
) -> None:
    """Rows are defenses, columns risks (SoK codes); a cell reads literature, prediction, observed, verdict."""
    by_cell = {(r["defense"], r["risk"]): r for r in records}
    t = Table(
        "",
        *(esc(k.risks[r].code or r) for r in risks),
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        title=esc(f"validate --all on {dataset}, {seeds} seeds"),
    )
    for d in defenses:
        cells = [by_cell[(d, r)] for r in risks]
        t.add_row(
            esc(k.defenses[d].code or d),
            *(
                f"{ARROWS.get(c['literature'], '?')}{ARROWS.get(c['prediction'], '?')}"
                f"{ARROWS.get(c['observed'], '?')} {VERDICT_MARK.get(c['verdict'], esc(c['verdict']))}"
                for c in cells
            ),
        )
    console.print(t)
    console.print(
        "Each cell: literature, prediction, observed (↑ increase, ↓ decrease, = none, ? ambiguous or "
        "unknown, · unexplored), then the verdict (✓ confirmed, ✗ refuted, ? inconclusive, ∅ not "
        "applicable, - not registered, n/a unsupported). "
        + esc("; ".join(f"{k.defenses[d].code} {d}" for d in defenses))
        + ". "
        + esc("; ".join(f"{k.risks[r].code} {r}" for r in risks))
        + ".",
        highlight=False,
    )
    run = [c for c in records if c["observed"] is not None]
    verdicts = {v: sum(c["verdict"] == v for c in records) for v in dict.fromkeys(c["verdict"] for c in records)}
    console.print(
        f"{len(run)} cells validated (directions by BH q < 0.05 across the cells). Outcomes: "
        + esc(accounting_line(records))
        + ". Verdicts: "
        + esc(", ".join(f"{n} {v}" for v, n in verdicts.items()))
        + f". {runtime_s:.0f} s.",
        highlight=False,
    )
