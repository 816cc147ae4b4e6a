"""BibTeX: exactly the references an export cites, under the KB's stable keys.

Nothing is invented. A reference whose work is not identified (``unresolved``: only the SoK's number is
known) becomes a ``@misc`` that says so in its note; an ``inferred`` one keeps its title and authors and
says in its note that the identity was inferred, not verified.

KB strings are escaped with :func:`escape.bibtex` (braces balance as BibTeX counts them, so no string can
close its field or open another) and URLs with :func:`escape.url` (raw, as ``\\url{}`` reads them).
"""

from __future__ import annotations

import re

from interplay.export.escape import bibtex as esc
from interplay.export.escape import url
from interplay.export.model import ExportModel
from interplay.kb.schema import Reference

SOK = "Duddu, Szyller and Asokan, IEEE S\\&P 2024"
_VENUE_FIELD = {"inproceedings": "booktitle", "incollection": "booktitle", "article": "journal"}


def _authors(authors: list[str]) -> str:
    return " and ".join("others" if a.strip().lower() in ("others", "et al.", "et al") else esc(a) for a in authors)


def _note(ref: Reference) -> str:
    parts = []
    where = f"reference [{ref.sok_number}] of {SOK}" if ref.sok_number else None
    if ref.status == "unresolved":
        parts.append(
            f"Cited as {where}; the work is not identified in this knowledge base"
            if where
            else "The work is not identified in this knowledge base"
        )
    elif ref.status == "inferred":
        parts.append(f"Identity inferred, not verified{f' ({where})' if where else ''}")
    elif where:
        parts.append(f"Cited as {where}")
    if ref.note and ref.status != "unresolved":
        parts.append(esc(ref.note))
    return ". ".join(parts)


def entry(ref: Reference) -> str:
    """One BibTeX entry; every value is brace-delimited and escaped for BibTeX (so braces always balance)."""
    etype = ref.entry_type.lower() if ref.status != "unresolved" else "misc"
    etype = etype if re.fullmatch(r"[a-z]+", etype) else "misc"
    fields: list[tuple[str, str]] = []
    if ref.status != "unresolved":
        if ref.authors:
            fields.append(("author", _authors(ref.authors)))
        if ref.title:
            fields.append(("title", "{" + esc(ref.title) + "}"))  # double braces keep the capitalisation
        if ref.venue:
            fields.append((_VENUE_FIELD.get(etype, "howpublished"), esc(ref.venue)))
        if ref.year:
            fields.append(("year", str(ref.year)))
        if ref.arxiv:
            fields += [("eprint", esc(ref.arxiv)), ("archiveprefix", "arXiv")]
        if ref.url and (link := url(ref.url)):
            fields.append(("url", link))
    if not any(name == "author" for name, _ in fields):
        fields.append(("key", esc(ref.key)))  # what BibTeX sorts and labels by when there is no author
    note = _note(ref)
    if note:
        fields.append(("note", note))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{etype}{{{ref.key},\n{body}\n}}\n" if body else f"@{etype}{{{ref.key}\n}}\n"


def missing_entry(key: str) -> str:
    return f"@misc{{{key},\n  note = {{Cited by the knowledge base, which has no record for this key}}\n}}\n"


def render(model: ExportModel) -> str:
    head = (
        "% BibTeX written by interplay: exactly the references the exported artefacts cite.\n"
        f"% {len(model.references)} entries; keys are the knowledge base's stable reference keys.\n\n"
    )
    entries = [entry(ref) if ref is not None else missing_entry(key) for key, ref in sorted(model.references.items())]
    return head + "\n".join(entries)
