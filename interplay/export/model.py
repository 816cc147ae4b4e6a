"""The one "what to export" model: nodes, edges, cells (observations, predictions, validations), references.

Every writer renders an :class:`ExportModel`; none reads the KB itself. Built once by :func:`build_export_model`.

What the model holds:

* **nodes**: every defense and risk chosen (all by default) and the factors, mediators and mechanism nodes
  on a directed path between them, each with its layer (0 defenses, 1 factors, 2 mediators and mechanisms,
  3 risks);
* **edges**: every KB mechanism edge between those nodes, moderators (Table 2 correlations the graph
  method does not traverse) and context-conditional edges included and flagged as such;
* **cells**: one per defense x risk, with the observation (``--include observations``), the prediction of
  ``method`` (``--include predictions``) and a validation verdict (``--include validations``, when a
  results source is given: a verdict mapping, or the validated-here layer of :mod:`interplay.interactions.validated`,
  whose experiment records the cells keep and whose sweep marks the predictions read back);
* **references**: exactly the references the exported artefacts cite: observation and exception refs (and
  the SoK itself, the source of the observations) and the evidence of every exported edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from interplay.errors import UsageError
from interplay.interactions import METHODS, Prediction, predict
from interplay.interactions.graph import edge_weight
from interplay.interactions.validated import SweepMark, ValidationRecord, Validations
from interplay.kb import KB
from interplay.kb.schema import Edge, Evidence, Observation, Reference

INCLUDES = ("observations", "predictions", "validations")
DEFAULT_INCLUDE = ("observations", "predictions")
LAYERS = {"defense": 0, "factor": 1, "mediator": 2, "mechanism": 2, "risk": 3}
KIND_RANK = {"empirical": 0, "theoretical": 1, "conjectured": 2}
SOK_KEY = "duddu2024sok"
NO_VALIDATIONS = "no validation results are available: {why}, so no cell carries a validation mark"


class ExportError(UsageError, ValueError):
    """A request the exporter cannot satisfy (unknown format, subset name, include item, missing tool)."""


@dataclass(frozen=True)
class NodeItem:
    id: str
    kind: str  # defense | risk | factor | mediator | mechanism
    name: str
    code: str
    layer: int
    category: str = ""  # risk/defense category, factor group
    active: bool = False
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})" if self.code else self.name

    @property
    def short(self) -> str:
        return self.code or self.name


@dataclass(frozen=True)
class EdgeItem:
    id: str
    source: str
    target: str
    sign: str  # increases | decreases | none | mixed
    role: str
    interpretation: str  # effect | moderator
    conditions: tuple[tuple[str, str], ...]
    evidence: tuple[Evidence, ...]
    weight: float
    sok_arrow: str = ""
    note: str = ""

    @property
    def moderator(self) -> bool:
        return self.interpretation == "moderator"

    @property
    def strongest(self) -> str:
        """The strongest evidence kind behind the edge (empirical > theoretical > conjectured)."""
        return min((ev.kind for ev in self.evidence), key=KIND_RANK.__getitem__)

    @property
    def condition_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.conditions)

    @property
    def refs(self) -> list[str]:
        return list(dict.fromkeys(ev.ref for ev in self.evidence))


@dataclass
class Cell:
    defense: str
    risk: str
    observation: Observation | None = None
    prediction: Prediction | None = None
    validation: str | None = None  # confirmed | refuted | inconclusive, from a results source
    record: ValidationRecord | None = None  # the experiment behind the verdict (validated-here layer)
    literature_validation: str | None = None  # the verdict under the literature setting (``validation``: generic)

    @property
    def reported(self) -> str | None:
        """The reported direction (increase/decrease), None when unexplored or observations are excluded."""
        if self.observation is None or self.observation.direction == "unexplored":
            return None
        return self.observation.direction

    @property
    def refs(self) -> list[str]:
        if self.observation is None:
            return []
        return list(dict.fromkeys([*self.observation.refs, *(r for x in self.observation.exceptions for r in x.refs)]))


@dataclass
class ExportModel:
    method: str
    include: frozenset[str]
    defenses: list[str]
    risks: list[str]
    nodes: dict[str, NodeItem]
    edges: list[EdgeItem]
    cells: list[Cell]
    references: dict[str, Reference | None]  # key -> KB record (None: cited but absent from the KB)
    risk_categories: dict[str, str]
    subset: bool = False
    notes: list[str] = field(default_factory=list)
    sweeps: list[SweepMark] = field(default_factory=list)  # sweep verdicts on the exported edges
    measurements: list[SweepMark] = field(default_factory=list)  # measured-here verdicts on defense -> factor edges

    def node(self, node_id: str) -> NodeItem:
        return self.nodes[node_id]

    def cell(self, defense: str, risk: str) -> Cell:
        for c in self.cells:
            if c.defense == defense and c.risk == risk:
                return c
        raise KeyError((defense, risk))

    @property
    def predictions(self) -> list[Prediction]:
        return [c.prediction for c in self.cells if c.prediction is not None]

    @property
    def observations(self) -> list[Observation]:
        return [c.observation for c in self.cells if c.observation is not None]

    def to_networkx(self, flat: bool = False) -> nx.MultiDiGraph:
        """A MultiDiGraph of the exported nodes and edges (edge key = edge id).

        ``flat``: every attribute a scalar (str, bool, float), as GraphML and GEXF need: evidence becomes
        ``"ref|kind|locator; ..."``, conditions ``"key=value, ..."``.
        """
        g = nx.MultiDiGraph()
        for n in self.nodes.values():
            g.add_node(
                n.id, kind=n.kind, name=n.name, code=n.code, layer=n.layer, category=n.category,
                active=n.active, description=n.description,
            )  # fmt: skip
        for e in self.edges:
            attrs: dict = {
                "sign": e.sign, "role": e.role, "interpretation": e.interpretation, "weight": e.weight,
                "strongest_evidence": e.strongest, "sok_arrow": e.sok_arrow, "note": e.note,
            }  # fmt: skip
            if flat:
                attrs["conditions"] = e.condition_text
                attrs["evidence"] = "; ".join(f"{ev.ref}|{ev.kind}|{ev.locator or ''}" for ev in e.evidence)
                attrs["refs"] = "; ".join(e.refs)
            else:
                attrs["conditions"] = dict(e.conditions)
                attrs["evidence"] = [ev.model_dump(exclude_defaults=True) | {"kind": ev.kind} for ev in e.evidence]
            g.add_edge(e.source, e.target, key=e.id, id=e.id, **attrs)
        return g


def _node_item(kb: KB, node_id: str) -> NodeItem:
    ent = kb.entity(node_id)
    kind = kb.kind_of(node_id)
    category = getattr(ent, "category", None) or getattr(ent, "group", None) or ""
    return NodeItem(
        node_id, kind, ent.name, ent.code or "", LAYERS[kind], category, bool(getattr(ent, "active", False)),
        ent.description,
    )  # fmt: skip


def _edge_item(e: Edge) -> EdgeItem:
    return EdgeItem(
        e.id, e.source, e.target, e.sign, e.role, e.interpretation, tuple(sorted(e.conditions.items())),
        tuple(e.evidence), edge_weight(e.evidence), e.sok_arrow or "", e.note or "",
    )  # fmt: skip


def resolve_subset(kb: KB, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Chosen defenses and risks (KB order) from names; raise ExportError for a name that is neither."""
    from interplay.kb import UnknownName

    defenses, risks = set(), set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        try:
            eid = kb.resolve(name)
        except UnknownName as exc:
            raise ExportError(f"--subset: {exc}") from None
        kind = kb.kind_of(eid)
        if kind == "defense":
            defenses.add(eid)
        elif kind == "risk":
            risks.add(eid)
        else:
            raise ExportError(f"--subset takes defenses and risks; {name!r} is a {kind} ({eid})")
    return [d for d in kb.defenses if d in defenses], [r for r in kb.risks if r in risks]


def _inner_nodes(kb: KB, defenses: list[str], risks: list[str]) -> set[str]:
    """Factors, mediators and mechanisms on a directed path from a chosen defense to a chosen risk."""
    g = nx.DiGraph()
    outside = (set(kb.defenses) - set(defenses)) | (set(kb.risks) - set(risks))
    g.add_nodes_from(e.id for e in kb.entities() if e.id not in outside)
    g.add_edges_from((e.source, e.target) for e in kb.edges if e.source not in outside and e.target not in outside)
    reach = set().union(*(nx.descendants(g, d) for d in defenses)) if defenses else set()
    back = set().union(*(nx.ancestors(g, r) for r in risks)) if risks else set()
    return {n for n in reach & back if kb.kind_of(n) not in ("defense", "risk")}


def parse_include(include: Iterable[str] | str | None) -> frozenset[str]:
    if include is None:
        return frozenset(DEFAULT_INCLUDE)
    items = include.split(",") if isinstance(include, str) else list(include)
    chosen = {i.strip().lower() for i in items if i.strip()}
    unknown = sorted(chosen - set(INCLUDES))
    if unknown:
        raise ExportError(f"--include: unknown item(s) {', '.join(unknown)}; choose from {', '.join(INCLUDES)}")
    return frozenset(chosen)


def build_export_model(
    kb: KB,
    method: str = "graph",
    subset: Iterable[str] | None = None,
    include: Iterable[str] | str | None = None,
    validations: Validations | Mapping[tuple[str, str], str] | None = None,
) -> ExportModel:
    """Decide what to export once; every writer renders the result.

    ``validations``: the validated-here layer, or verdicts per (defense, risk); read only with ``validations``
    in ``include``.
    """
    if method not in METHODS:
        raise ExportError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    inc = parse_include(include)
    names = [n for n in (subset or []) if n.strip()]
    if names:
        defenses, risks = resolve_subset(kb, names)
        defenses = defenses or list(kb.defenses)
        risks = risks or list(kb.risks)
        inner = _inner_nodes(kb, defenses, risks)
        order = [e.id for e in kb.entities()]
        keep = [n for n in order if n in set(defenses) | set(risks) | inner]
    else:
        defenses, risks = list(kb.defenses), list(kb.risks)
        keep = [e.id for e in kb.entities()]
    nodes = {n: _node_item(kb, n) for n in keep}
    edges = [_edge_item(e) for e in kb.edges if e.source in nodes and e.target in nodes]

    wanted = "validations" in inc
    layer: Validations | None = None
    verdicts: Mapping[tuple[str, str], str] | None = None
    if wanted:
        if isinstance(validations, Validations):
            layer, verdicts = validations, validations.verdicts()
        else:
            verdicts = validations
    notes: list[str] = []
    if wanted and not verdicts:
        source = layer.source if layer is not None else ""
        why = f"the results store {source} holds none" if source else "no results source was given"
        notes.append(NO_VALIDATIONS.format(why=why))
    cells = []
    for d in defenses:
        for r in risks:
            cell = Cell(d, r)
            if "observations" in inc:
                cell.observation = kb.observation(d, r)
            if "predictions" in inc:
                cell.prediction = predict(kb, d, r, method, validations=layer)
            if verdicts:
                cell.validation = verdicts.get((d, r))
            cell.record = layer.cell(d, r) if layer is not None else None
            literature = layer.settings_of(d, r).get("literature") if layer is not None else None
            if literature is not None:
                cell.literature_validation = literature.verdict
                if literature is cell.record:  # validated under the literature setting alone
                    cell.validation = None
            cells.append(cell)
    edge_ids = {e.id for e in edges}
    sweeps = [m for e, marks in (layer.sweeps.items() if layer else ()) if e in edge_ids for m in marks]
    measurements = [m for e, ms in (layer.measurements.items() if layer else ()) if e in edge_ids for m in ms]

    cited: list[str] = []
    if "observations" in inc and any(c.observation for c in cells):
        cited.append(SOK_KEY)
    for c in cells:
        cited.extend(c.refs)
    for e in edges:
        cited.extend(e.refs)
    references = {k: kb.references.get(k) for k in dict.fromkeys(cited)}
    return ExportModel(
        method=method, include=inc, defenses=defenses, risks=risks, nodes=nodes, edges=edges, cells=cells,
        references=references, risk_categories={r: kb.risks[r].category for r in risks}, subset=bool(names),
        notes=notes, sweeps=sweeps, measurements=measurements,
    )  # fmt: skip
