"""The API's outputs: the status table, exports (formats and figures) and the HTML report."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from interplay.arguments import checked
from interplay.errors import UsageError
from interplay.interactions.status import cell_status, summary
from interplay.interactions.validated import Validations
from interplay.kb import KB
from interplay.results import (
    Status,
    plain,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from interplay.export import ExportResult
from interplay.api._common import KBLike, StoreLike, _check_method, _kb, _select, read_validations


@checked
def status(
    *, store: StoreLike = None, method: str = "graph", kb: KBLike = None, defenses: Iterable[str] | str | None = "sok"
) -> Status:
    """Every cell of ``defenses`` (default the SoK's seven, see :func:`select_defenses`): literature, prediction per
    method, experiment verdict, and whether they agree."""
    k = _kb(kb)
    records = plain(cell_status(k, read_validations(store), method, _select(k, defenses, "defense")))
    return Status(records, summary(records))


@checked
def export(
    fmt: str,
    output: str | Path,
    *,
    method: str = "graph",
    subset: Iterable[str] | str | None = None,
    include: Iterable[str] | str = "observations,predictions",
    standalone: bool = False,
    renderer: str = "auto",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
    cell: tuple[str, str] | str | None = None,
    factor: str | None = None,
) -> ExportResult:
    """Write the KB, the matrix and the evidence as ``fmt`` (latex, bib, dot, svg, pdf, tikz, graphml, gexf, json,
    mermaid, csv); ``include`` may add ``validations`` read from ``store``. ``defenses`` (default the SoK's seven,
    see :func:`select_defenses`) are the matrix's rows and, with every risk, the graph's subset; ``subset``
    replaces both. ``fmt`` heatmap, forest or sweep: that figure of :func:`figure` (``cell``, ``factor``) as
    .png, .pdf or .svg."""
    from interplay.export import FORMATS, ExportError, ExportResult
    from interplay.export import export as write
    from interplay.export.result_figures import FIGURES, check_figure_output
    from interplay.export.result_figures import write as write_figure

    k = _kb(kb)
    kind = str(fmt).lower()
    if kind not in (*FORMATS, *FIGURES):
        figures = ", ".join(FIGURES)
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}, or a figure: {figures}")
    if (cell is not None or factor is not None) and kind not in FIGURES:
        raise UsageError("cell (--cell) and factor (--factor) choose what a forest or sweep figure shows")
    if kind in FIGURES:
        check_figure_output(Path(output))
        drawn = figure(kind, cell=cell, factor=factor, method=method, store=store, kb=k, defenses=defenses)
        return ExportResult(kind, [write_figure(drawn, Path(output))], renderer="matplotlib")
    layers = {i.strip().lower() for i in (include.split(",") if isinstance(include, str) else include)}
    if isinstance(subset, str):
        subset = subset.split(",")
    return write(
        k,
        fmt,
        output,
        method=method,
        subset=subset or _defense_subset(k, defenses),
        include=include,
        standalone=standalone,
        renderer=renderer,
        validations=read_validations(store) if "validations" in layers else None,
    )


@checked
def figure(
    kind: str,
    *,
    cell: tuple[str, str] | str | None = None,
    factor: str | None = None,
    method: str = "graph",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
) -> Figure:
    """A matplotlib figure of the results in ``store`` (docs/figures.md): ``heatmap`` (the matrix of ``defenses``:
    literature, prediction, observed effect with its verdict), ``forest`` (``cell``'s per-seed differences, CI and
    smallest effect of interest), ``sweep`` (``cell``'s sweep over ``factor``) or ``risk-coverage`` (the reasoner's
    methods under leave-one-paper-out, as ``eval loo`` scores them; no store needed). ``cell``: (defense, risk) or
    ``"DEFENSE,RISK"``; names resolve through the KB."""
    from interplay.export import ExportError, result_figures

    if kind not in result_figures.FIGURES:
        raise ExportError(f"unknown figure {kind!r}; choose one of {', '.join(result_figures.FIGURES)}")
    _check_method(method)
    k = _kb(kb)
    if kind in result_figures.WHOLE_MATRIX and (cell is not None or factor is not None):
        raise UsageError(f"the {kind} figure shows every cell: --cell and --factor go with forest, sweep")
    if kind == "risk-coverage":
        return result_figures.risk_coverage(k)
    layer = read_validations(store)
    if kind == "heatmap":
        return result_figures.heatmap(k, layer, method, _defense_subset(k, defenses))
    if cell is None:
        raise UsageError(f"a {kind} figure is of one cell: give cell (--cell DEFENSE,RISK)")
    parts = cell.split(",") if isinstance(cell, str) else list(cell)
    if len(parts) != 2:
        raise UsageError(f"cell must name a defense and a risk (DEFENSE,RISK), not {cell!r}")
    d, r = k.resolve(parts[0].strip(), "defense"), k.resolve(parts[1].strip(), "risk")
    if kind == "forest":
        if factor is not None:
            raise UsageError("factor (--factor) goes with the sweep figure")
        return result_figures.forest(layer, d, r, store)
    return result_figures.sweep(layer, d, r, factor, store)


@checked
def report(
    output: str | Path,
    *,
    method: str = "graph",
    store: StoreLike = None,
    kb: KBLike = None,
    defenses: Iterable[str] | str | None = "sok",
) -> Path:
    """One self-contained HTML page: the matrix of ``defenses`` (default the SoK's seven, see
    :func:`select_defenses`) as a heat map, every cell's explanation and experiment."""
    from interplay.export.report import write_report

    _check_method(method)
    k = _kb(kb)
    layer = read_validations(store)
    return write_report(k, output, method, layer, _defense_subset(k, defenses), _stored_sweeps(layer))


def _stored_sweeps(layer: Validations) -> list[dict]:
    """The sweep documents of the store ``layer`` was read from, newest first (none without a store file)."""
    from interplay.validators.store import ResultStore

    if not layer.source or not Path(layer.source).is_file():
        return []
    return [d for d in ResultStore(layer.source, readonly=True).sweeps() if d.get("kind") != "measure"]


def _defense_subset(k: KB, defenses: Iterable[str] | str | None) -> list[str] | None:
    """The export subset of ``defenses`` with every risk, or None (no subset) when they are all the KB's."""
    chosen = _select(k, defenses, "defense")
    return None if chosen == list(k.defenses) else [*chosen, *k.risks]
