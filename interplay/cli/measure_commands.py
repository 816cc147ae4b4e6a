"""`interplay measure`: does a defense move the factors the KB says it moves? (thin wrapper)"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from interplay import api
from interplay.cli.common import (
    Address,
    DataPath,
    Dataset,
    ExecutorOpt,
    Jobs,
    Json,
    KBDir,
    Overlay,
    Param,
    Preset,
    ProgressBar,
    Quick,
    Seeds,
    Store,
    console,
    emit_json,
    errors,
    esc,
    open_kb,
    preset_of,
)

VERDICT_STYLE = {"confirms": "green", "contradicts": "red", "inconclusive": "yellow"}


def measure_cmd(
    defense: Annotated[str, typer.Argument(help="A defense: slug, SoK code or alias.")],
    factors: Annotated[
        str | None, typer.Option("--factors", help="Only these factors (comma-separated; default: every one).")
    ] = None,
    dataset: Dataset = "synthetic",
    seeds: Seeds = None,
    preset: Preset = None,
    quick: Quick = False,
    param: Param = None,
    data_path: DataPath = None,
    store: Store = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = "local",
    address: Address = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Measure the factors on the baseline and DEFENSE over paired seeds and judge the KB's defense -> factor edges."""
    k = open_kb(kb, overlay, json)
    with errors(json), ProgressBar() as bar:
        result = api.measure(
            defense,
            factors=factors,
            dataset=dataset,
            preset=preset_of(preset, quick, json),
            seeds=seeds,
            params=param,
            data_path=data_path,
            store=store,
            jobs=jobs,
            executor=executor,
            address=address,
            kb=k,
            progress=bar,
        )
    doc = result.to_dict()
    if json:
        emit_json(doc)
        return
    t = Table("factor", "baseline", "defended", "difference", "q", "observed", "KB", "verdict",
              title=esc(f"factors of {doc['defense']} ({doc['seeds']} seeds on {doc['dataset']})"))  # fmt: skip
    for name, f in doc["factors"].items():
        verdict = f["verdict"] or "no KB edge"
        t.add_row(
            esc(name), f"{f['baseline']:.4f}", f"{f['defended']:.4f}", f"{f['difference']:+.4f}",
            f"{f['q_value']:.2g}", esc(f["observed"]), esc(f["kb"] or "-"),
            f"[{VERDICT_STYLE.get(verdict, 'dim')}]{esc(verdict)}[/]",
        )  # fmt: skip
    console.print(t)
    if doc["unmeasured"]:
        console.print(f"[dim]not measurable here: {esc(', '.join(doc['unmeasured']))}[/]")
