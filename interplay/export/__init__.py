"""Exports for papers: LaTeX, BibTeX, graph figures and data formats.

``export(kb, fmt, path, method=..., subset=..., include=...)`` builds one :class:`ExportModel` (what to
export) and hands it to the writer of ``fmt``. Importing this package never imports torch.
"""

from interplay.export.model import INCLUDES, ExportError, ExportModel, build_export_model
from interplay.export.writers import FORMATS, RENDERERS, ExportResult, export, render_text

__all__ = [
    "FORMATS",
    "INCLUDES",
    "RENDERERS",
    "ExportError",
    "ExportModel",
    "ExportResult",
    "build_export_model",
    "export",
    "render_text",
]
