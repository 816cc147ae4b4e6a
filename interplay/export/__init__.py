"""Exports for papers: LaTeX, BibTeX, graph figures and data formats."""
