"""Data formats of the graph and the cells: GraphML, GEXF, node-link JSON, Mermaid, CSV.

GraphML and GEXF carry flattened, scalar attributes (see :meth:`ExportModel.to_networkx`) so that
``networkx.read_graphml``/``read_gexf`` load them back with the same nodes, edges and signs. Data formats keep
numbers at full precision; the formats for people round them (:mod:`interplay.export.numbers`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx as nx

from interplay.export import escape
from interplay.export.model import ExportModel
from interplay.export.style import MODERATOR_COLOR, NODE_FILL, SIGN_COLOR, SIGN_SYMBOL
from interplay.version import VERSION

# ---------------------------------------------------------------- GraphML / GEXF


def write_graphml(model: ExportModel, path: Path) -> None:
    nx.write_graphml(model.to_networkx(flat=True), path, named_key_ids=True)


def write_gexf(model: ExportModel, path: Path) -> None:
    g = model.to_networkx(flat=True)
    for n, data in g.nodes(data=True):
        data["label"] = model.node(n).label
    nx.write_gexf(g, path)


# ---------------------------------------------------------------- JSON


def _reference(key: str, ref) -> dict:
    if ref is None:
        return {"key": key, "status": "missing"}
    return ref.model_dump(exclude_none=True)


def node_link(g: nx.MultiDiGraph) -> dict:
    """``networkx.node_link_data`` with the links under ``"links"`` on every supported networkx version."""
    try:
        return nx.node_link_data(g, edges="links")
    except TypeError:  # networkx < 3.4
        return nx.node_link_data(g, link="links")


def json_document(model: ExportModel) -> dict:
    """Node-link JSON (``networkx.node_link_graph(doc["graph"], edges="links")`` reads it) plus the cells."""
    graph = node_link(model.to_networkx(flat=False))
    cells = []
    for c in model.cells:
        doc: dict = {"defense": c.defense, "risk": c.risk}
        if "observations" in model.include:
            doc["observation"] = c.observation.model_dump(exclude_none=True) if c.observation else None
        if c.prediction is not None:
            doc["prediction"] = c.prediction.to_dict()
        if "validations" in model.include:
            doc["validation"] = c.validation
            doc["experiment"] = c.record.to_dict() if c.record else None
        cells.append(doc)
    return {
        "format": "interplay-export",
        "version": VERSION,
        "method": model.method,
        "include": sorted(model.include),
        "defenses": model.defenses,
        "risks": model.risks,
        "notes": model.notes,
        "graph": graph,
        "cells": cells,
        **({"sweeps": [m.to_dict() for m in model.sweeps]} if "validations" in model.include else {}),
        "references": [_reference(k, r) for k, r in sorted(model.references.items())],
    }


def render_json(model: ExportModel) -> str:
    return json.dumps(json_document(model), indent=2, default=str) + "\n"


# ---------------------------------------------------------------- Mermaid

_ARROW = {"increases": "-->", "decreases": "--x", "none": "--o", "mixed": "-->"}
_DASH = {"empirical": "", "theoretical": ",stroke-dasharray:6 3", "conjectured": ",stroke-dasharray:2 3"}
_GROUPS = (
    ("layer_defenses", "Defenses", (0,)),
    ("layer_inner", "Factors, mediators, mechanisms", (1, 2)),
    ("layer_risks", "Risks", (3,)),
)


def render_mermaid(model: ExportModel) -> str:
    """A Mermaid flowchart: layers as subgraphs, sign in colour, arrowhead and label, evidence as dashes."""
    ids: dict[str, str] = {}
    for i, n in enumerate(model.nodes):
        ids[n] = f"n{i}"
    lines = [
        "%% Written by interplay (interplay export mermaid). Labels are entity-escaped.",
        "%% Colour/arrowhead/label = sign (+ increases, x decreases, o none, ? mixed);",
        "%% dashes = strongest evidence (solid empirical, long theoretical, short conjectured); grey = moderator.",
        "flowchart LR",
    ]
    for key, title, layers in _GROUPS:
        members = [n for n in model.nodes.values() if n.layer in layers]
        if not members:
            continue
        lines.append(f'  subgraph {key}["{escape.mermaid(title)}"]')
        lines.append("    direction TB")
        lines += [f'    {ids[n.id]}["{escape.mermaid(n.label)}"]:::{n.kind}' for n in members]
        lines.append("  end")
    styles = []
    for i, e in enumerate(model.edges):
        label = SIGN_SYMBOL[e.sign] + (f" if {e.condition_text}" if e.conditions else "")
        label += " (moderator)" if e.moderator else ""
        lines.append(f'  {ids[e.source]} {_ARROW[e.sign]}|"{escape.mermaid(label)}"| {ids[e.target]}')
        color = MODERATOR_COLOR if e.moderator else SIGN_COLOR[e.sign]
        styles.append(f"  linkStyle {i} stroke:{color},stroke-width:{1 if e.moderator else 2}px{_DASH[e.strongest]}")
    lines += styles
    for kind, fill in NODE_FILL.items():
        lines.append(f"  classDef {kind} fill:{fill},stroke:#555")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- CSV


def _csv(rows: list[dict], columns: list[str]) -> str:
    """CSV text, a line per row; a cell a spreadsheet would run as a formula is neutralised
    (:func:`escape.spreadsheet`), and one holding a line break (CR too) is quoted."""
    lines = []
    for row in [dict(zip(columns, columns, strict=True)), *rows]:
        buf = io.StringIO()  # the writer quotes the characters of its terminator: "\r\n" covers CR and LF
        csv.DictWriter(buf, columns, extrasaction="ignore").writerow({k: escape.spreadsheet(v) for k, v in row.items()})
        lines.append(buf.getvalue().removesuffix("\r\n") + "\n")
    return "".join(lines)


EDGE_COLUMNS = ["id", "source", "target", "sign", "role", "interpretation", "conditions", "strongest_evidence",
                "weight", "refs", "note"]  # fmt: skip
EVIDENCE_COLUMNS = ["edge", "source", "target", "sign", "ref", "kind", "locator", "conditions", "note"]
PREDICTION_COLUMNS = ["defense", "risk", "method", "prediction", "resolution", "confidence", "qpn_sign", "reported",
                      "supporting_paths", "opposing_paths", "strongest_path", "validation", "observed"]  # fmt: skip
OBSERVATION_COLUMNS = ["id", "defense", "risk", "direction", "intended", "refs", "exceptions", "conjecture", "note"]


def csv_tables(model: ExportModel) -> dict[str, str]:
    """Table name -> CSV text: ``edges``, ``evidence``, and ``predictions``/``observations`` when included."""
    edges = [
        {"id": e.id, "source": e.source, "target": e.target, "sign": e.sign, "role": e.role,
         "interpretation": e.interpretation, "conditions": e.condition_text, "strongest_evidence": e.strongest,
         "weight": e.weight, "refs": "; ".join(e.refs), "note": e.note}
        for e in model.edges
    ]  # fmt: skip
    evidence = [
        {"edge": e.id, "source": e.source, "target": e.target, "sign": e.sign, "ref": ev.ref, "kind": ev.kind,
         "locator": ev.locator or "", "conditions": ", ".join(f"{k}={v}" for k, v in ev.conditions.items()),
         "note": ev.note or ""}
        for e in model.edges for ev in e.evidence
    ]  # fmt: skip
    tables = {"edges": _csv(edges, EDGE_COLUMNS), "evidence": _csv(evidence, EVIDENCE_COLUMNS)}
    if model.predictions:
        rows = []
        for c in model.cells:
            p = c.prediction
            if p is None:
                continue
            rows.append({
                "defense": c.defense, "risk": c.risk, "method": p.method, "prediction": p.direction,
                "resolution": p.resolution, "confidence": p.confidence, "qpn_sign": p.qpn_sign,
                "reported": (c.observation.direction if c.observation else ""),
                "supporting_paths": len(p.supporting), "opposing_paths": len(p.opposing),
                "strongest_path": " > ".join(p.paths[0].nodes) if p.paths else "",
                "validation": c.validation or "", "observed": c.record.observed if c.record else "",
            })  # fmt: skip
        tables["predictions"] = _csv(rows, PREDICTION_COLUMNS)
    if "observations" in model.include:
        rows = [
            {"id": o.id, "defense": o.defense, "risk": o.risk, "direction": o.direction, "intended": o.intended,
             "refs": "; ".join(o.refs),
             "exceptions": "; ".join(
                 f"{x.direction} if {', '.join(f'{k}={v}' for k, v in x.context.items())} [{', '.join(x.refs)}]"
                 for x in o.exceptions),
             "conjecture": o.conjecture.direction if o.conjecture else "", "note": o.note or ""}
            for o in model.observations
        ]  # fmt: skip
        tables["observations"] = _csv(rows, OBSERVATION_COLUMNS)
    return tables


def csv_paths(path: Path, tables: list[str]) -> dict[str, Path]:
    """Where each table goes: ``x.csv`` holds the edges and ``x-<table>.csv`` the others; a path without the
    ``.csv`` suffix is a directory holding ``<table>.csv``."""
    if path.suffix.lower() == ".csv":
        return {t: path if t == "edges" else path.with_name(f"{path.stem}-{t}.csv") for t in tables}
    return {t: path / f"{t}.csv" for t in tables}
