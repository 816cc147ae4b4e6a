"""Which results each figure of :mod:`.charts` draws, read from a results store (``interplay export heatmap|forest|
sweep -o FILE``), or, for ``risk-coverage``, from the reasoner's leave-one-paper-out evaluation. A store with no
validation, a cell never validated, a sweep never run and an output that is not a
writable .png, .pdf or .svg are :class:`~.model.ExportError` (exit 2) before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from interplay.export import charts
from interplay.export.model import INCLUDES, ExportError, build_export_model
from interplay.export.writers import check_output_file
from interplay.interactions.status import cell_status
from interplay.interactions.validated import Validations
from interplay.kb import KB

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURES = ("heatmap", "forest", "sweep", "risk-coverage")
WHOLE_MATRIX = ("heatmap", "risk-coverage")  # figures of every cell: no --cell, no --factor


def _no_results(layer: Validations) -> ExportError:
    where = layer.source or "the default store"
    return ExportError(f"the results store {where} holds no validation: run `interplay validate` first (or name the "
                       "store with --store)")  # fmt: skip


def heatmap(kb: KB, layer: Validations, method: str = "graph", subset: list[str] | None = None) -> Figure:
    """The matrix (of ``subset``, else every cell) with the store's verdicts."""
    if not layer.cells:
        raise _no_results(layer)
    model = build_export_model(kb, method, subset, include=INCLUDES, validations=layer)
    return charts.heatmap(model, cell_status(kb, layer, method, model.defenses))


def forest(layer: Validations, defense: str, risk: str, store: str | Path | None) -> Figure:
    """The per-seed differences of the cell's validation that the status and the report show."""
    from interplay import frames
    from interplay.validators.store import ResultStore

    record = layer.cell(defense, risk)
    if record is None:
        if not layer.cells:
            raise _no_results(layer)
        raise ExportError(f"{defense} -> {risk} was never validated in {layer.source or 'the default store'}: run "
                          f"`interplay validate {defense} {risk}` first")  # fmt: skip
    results = ResultStore(store, readonly=True)
    doc = next(d for d in results.validations() if d.get("config_hash") == record.config_hash)
    seeds = frames.seed_rows(doc, results.runs(record.config_hash))
    if not seeds:
        raise ExportError(f"the store holds no per-seed records of {defense} -> {risk} (configuration "
                          f"{record.config_hash}) that reproduce its effect")  # fmt: skip
    title = f"{defense} → {risk}\n{doc['verdict']}, {len(seeds)} seeds, {doc['dataset']}"
    return charts.forest(seeds, doc["effect"], title)


def sweep(layer: Validations, defense: str, risk: str, factor: str | None, store: str | Path | None) -> Figure:
    """The newest sweep of the cell (of ``factor`` when given; required when the cell was swept over several)."""
    from interplay.validators.store import ResultStore

    docs = [d for d in ResultStore(store, readonly=True).sweeps()
            if d.get("kind") != "measure" and d.get("defense") == defense and d.get("risk") == risk
            and d.get("points")]  # fmt: skip
    factors = sorted({d["factor"] for d in docs})
    if factor is not None:
        docs = [d for d in docs if factor in (d["factor"], d.get("factor_node"))]
    if not docs:
        swept = f" (swept: {', '.join(factors)})" if factors else ""
        raise ExportError(f"no sweep of {defense} -> {risk}{f' over {factor}' if factor else ''} in "
                          f"{layer.source or 'the default store'}{swept}: run `interplay sweep` first")  # fmt: skip
    if factor is None and len(factors) > 1:
        raise ExportError(f"{defense} -> {risk} was swept over {', '.join(factors)}: choose one with --factor")
    return charts.sweep_curves(docs[0])


def risk_coverage(kb: KB, methods: tuple[str, ...] = ("graph", "guideline", "shortest-path")) -> Figure:
    """The reasoner's risk-coverage curves under leave-one-paper-out, as ``interplay eval loo`` scores them: each
    held-out cell answered in order of its calibrated probability of being right."""
    from interplay.interactions.evaluate import leave_one_paper_out

    curves = {}
    for m in methods:
        cases = leave_one_paper_out(kb, m).cases
        curves[m] = [{"confidence": getattr(c, "probability", None), "correct": c.correct} for c in cases]
    return charts.risk_coverage(curves, "leave-one-paper-out, the SoK's directed cells")


def check_figure_output(path: Path) -> None:
    """Refuse, before anything is drawn, an output that is no .png, .pdf or .svg file we could create."""
    if path.suffix.lower() not in charts.SUFFIXES:
        raise ExportError(f"a figure is written as {', '.join(charts.SUFFIXES)}; {path} has none of these suffixes")
    check_output_file(path)


def write(fig: Figure, path: Path) -> Path:
    """Save ``fig`` at ``path`` (all or nothing)."""
    try:
        return charts.save(fig, path)
    except OSError as exc:  # the message names the output, not the temporary file beside it
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
