"""The one entry point: ``export(kb, fmt, path, ...)`` builds the model once and hands it to a writer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from interplay.export import bibtex, dot, graph_formats, latex, tikz
from interplay.export.model import ExportError, ExportModel, build_export_model
from interplay.interactions.validated import Validations
from interplay.kb import KB

FORMATS = ("latex", "bib", "dot", "svg", "pdf", "tikz", "graphml", "gexf", "json", "mermaid", "csv")
RENDERERS = ("auto", "graphviz", "matplotlib")
STANDALONE_FORMATS = ("latex", "tikz")


@dataclass
class ExportResult:
    format: str
    paths: list[Path]
    renderer: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"format": self.format, "paths": [str(p) for p in self.paths], "renderer": self.renderer,
                "notes": self.notes}  # fmt: skip


def render_text(model: ExportModel, fmt: str, standalone: bool = False) -> str:
    """The text of a single-file text format (everything but svg, pdf and csv)."""
    writers = {
        "latex": lambda: latex.render(model, standalone),
        "bib": lambda: bibtex.render(model),
        "dot": lambda: dot.render(model),
        "tikz": lambda: tikz.render(model, standalone),
        "mermaid": lambda: graph_formats.render_mermaid(model),
        "json": lambda: graph_formats.render_json(model),
    }
    if fmt not in writers:
        raise ExportError(f"{fmt} is not a single-file text format")
    return writers[fmt]()


def _figure(model: ExportModel, fmt: str, path: Path, renderer: str) -> str:
    if renderer == "graphviz" or (renderer == "auto" and dot.available()):
        dot.render_file(dot.render(model), path, fmt)  # raises with the install hint when dot is missing
        return "graphviz"
    from interplay.export import figure

    figure.draw(model, path, fmt)
    return "matplotlib"


def export(
    kb: KB,
    fmt: str,
    path: str | Path,
    method: str = "graph",
    subset: Iterable[str] | None = None,
    include: Iterable[str] | str | None = None,
    standalone: bool = False,
    renderer: str = "auto",
    validations: Validations | Mapping[tuple[str, str], str] | None = None,
) -> ExportResult:
    """Write ``kb`` in format ``fmt`` to ``path``; raise :class:`ExportError` for a request it cannot satisfy.

    ``subset``: names of defenses and risks (slugs, codes, aliases); ``include``: any of observations,
    predictions, validations (default observations and predictions); ``validations``: the validated-here layer,
    or verdicts per (defense, risk) from a results source; ``renderer`` (svg, pdf): auto, graphviz or matplotlib.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if renderer not in RENDERERS:
        raise ExportError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    model = build_export_model(kb, method, subset, include, validations)
    out = Path(path)
    result = ExportResult(fmt, [out], notes=list(model.notes))
    if standalone and fmt not in STANDALONE_FORMATS:
        result.notes.append(f"--standalone applies to {' and '.join(STANDALONE_FORMATS)} only; ignored for {fmt}")
    if renderer != "auto" and fmt not in ("svg", "pdf"):
        result.notes.append(f"--renderer applies to svg and pdf only; ignored for {fmt}")
    if fmt == "csv":
        tables = graph_formats.csv_tables(model)
        where = graph_formats.csv_paths(out, list(tables))
        if out.suffix.lower() != ".csv":
            check_output_folder(out, "csv export writes a folder of tables (or give a path ending in .csv)")
        for target in where.values():
            check_output_file(target)
        result.paths = list(where.values())
    else:
        check_output_file(out)
    try:
        if fmt in ("svg", "pdf"):
            out.parent.mkdir(parents=True, exist_ok=True)
            result.renderer = _figure(model, fmt, out, renderer)
        elif fmt == "graphml":
            out.parent.mkdir(parents=True, exist_ok=True)
            graph_formats.write_graphml(model, out)
        elif fmt == "gexf":
            out.parent.mkdir(parents=True, exist_ok=True)
            graph_formats.write_gexf(model, out)
        elif fmt == "csv":
            for name, text in tables.items():
                where[name].parent.mkdir(parents=True, exist_ok=True)
                where[name].write_text(text, encoding="utf-8")
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_text(model, fmt, standalone), encoding="utf-8")
    except OSError as exc:
        raise ExportError(write_failure(out, exc)) from None
    return result


def _blocking_file(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that exists and is not a folder (nothing can be created under it)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_output_file(path: Path) -> None:
    """Refuse, before anything is written, an output file path that names a folder or lies under a file."""
    if not str(path).strip() or path.is_dir():
        raise ExportError(f"the output {str(path) or '(empty)'} is a folder; give a file name")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise ExportError(f"cannot write {path}: {blocking} is a file, not a folder")


def check_output_folder(path: Path, hint: str) -> None:
    """Refuse, before anything is written, an output folder path that names a file or lies under one."""
    if path.exists() and not path.is_dir():
        raise ExportError(f"the output {path} is a file; {hint}")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise ExportError(f"cannot write {path}: {blocking} is a file, not a folder")


def write_failure(path: Path, exc: OSError) -> str:
    """The message for an output that could not be written (read-only, full disk, ...)."""
    where = exc.filename if exc.filename else path
    return f"cannot write {where}: {exc.strerror or exc}"
