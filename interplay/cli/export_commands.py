"""`interplay export FORMAT -o PATH`: the graph, the matrix and the evidence for a paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from interplay import api
from interplay.cli.common import Defenses, KBDir, Overlay, Store, err_console, errors, open_kb
from interplay.export import FORMATS, RENDERERS
from interplay.export.result_figures import FIGURES


def export_command(
    fmt: Annotated[
        str,
        typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}; or a figure: {', '.join(FIGURES)}."),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write (csv: a .csv file or a folder; a figure: png, pdf, svg)."),
    ],
    method: Annotated[str, typer.Option("--method", help="Prediction method: graph, guideline, shortest-path.")] = (
        "graph"
    ),
    subset: Annotated[
        str | None, typer.Option("--subset", help="Comma-separated defenses and risks (slugs, codes, aliases).")
    ] = None,
    include: Annotated[
        str, typer.Option("--include", help="Comma-separated layers: observations, predictions, validations.")
    ] = "observations,predictions",
    standalone: Annotated[
        bool, typer.Option("--standalone", help="latex, tikz: a complete document that compiles with pdflatex.")
    ] = False,
    renderer: Annotated[
        str, typer.Option("--renderer", help=f"svg, pdf: {', '.join(RENDERERS)} (graphviz needs its dot program).")
    ] = "auto",
    cell: Annotated[
        str | None, typer.Option("--cell", help="forest, sweep: the cell DEFENSE,RISK (slugs, codes, aliases).")
    ] = None,
    factor: Annotated[str | None, typer.Option("--factor", help="sweep: the factor swept (D1..D4, M1).")] = None,
    defenses: Defenses = "sok",
    store: Store = None,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Export as latex, bib, dot, svg, pdf, tikz, graphml, gexf, json, mermaid or csv; or draw a figure of the stored
    results: heatmap, forest (--cell), sweep (--cell, --factor), risk-coverage (the reasoner; docs/figures.md)."""
    k = open_kb(kb, overlay)
    with errors():
        result = api.export(
            fmt,
            output,
            method=method,
            subset=subset,
            include=include,
            standalone=standalone,
            renderer=renderer,
            store=store,
            kb=k,
            defenses=defenses,
            cell=cell,
            factor=factor,
        )
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    how = f" (rendered with {result.renderer})" if result.renderer else ""
    for p in result.paths:
        err_console.print(f"wrote {p}{how}", highlight=False, markup=False)
