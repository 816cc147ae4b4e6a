"""The typed knowledge base and name resolution (slugs, SoK codes and aliases, case-insensitively)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from interplay.errors import UsageError
from interplay.kb.schema import (
    CombinationObservation,
    ContextKey,
    Defense,
    Edge,
    Entity,
    Factor,
    Node,
    Observation,
    Reference,
    Risk,
)

KINDS = ("defense", "risk", "factor", "node")


class UnknownName(UsageError, LookupError):
    """A name that matches no entity; carries close matches for a "did you mean" message."""

    def __init__(self, name: str, kind: str | None, suggestions: list[str]):
        self.name, self.kind, self.suggestions = name, kind, suggestions
        what = kind or "name"
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {what} {name!r}{hint}")


def normalize_name(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", "-").split())


@dataclass
class KB:
    """Every object of the knowledge base, indexed by id."""

    defenses: dict[str, Defense]
    risks: dict[str, Risk]
    factors: dict[str, Factor]
    nodes: dict[str, Node]
    edges: list[Edge]
    observations: list[Observation]
    references: dict[str, Reference]
    contexts: dict[str, ContextKey]
    combinations: list[CombinationObservation] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    _names: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for ent in self.entities():
            for n in ent.names:
                self._names.setdefault(normalize_name(n), ent.id)

    def entities(self) -> list[Entity]:
        return [*self.defenses.values(), *self.risks.values(), *self.factors.values(), *self.nodes.values()]

    @property
    def sok_defenses(self) -> list[str]:
        """The SoK's own defenses (scope ``sok``), in KB order."""
        return [d for d, x in self.defenses.items() if x.scope == "sok"]

    def entity(self, entity_id: str) -> Entity:
        for table in (self.defenses, self.risks, self.factors, self.nodes):
            if entity_id in table:
                return table[entity_id]
        raise KeyError(entity_id)

    def kind_of(self, entity_id: str) -> str:
        if entity_id in self.defenses:
            return "defense"
        if entity_id in self.risks:
            return "risk"
        if entity_id in self.factors:
            return "factor"
        return self.nodes[entity_id].kind

    def _table(self, kind: str) -> Mapping[str, Entity]:
        tables: dict[str, Mapping[str, Entity]] = {
            "defense": self.defenses,
            "risk": self.risks,
            "factor": self.factors,
            "node": self.nodes,
        }
        return tables[kind]

    def resolve(self, name: str, kind: str | None = None) -> str:
        """Return the canonical id for ``name`` (a slug, SoK code or alias) or raise :class:`UnknownName`."""
        key = normalize_name(name)
        found = self._names.get(key) or self._names.get(key.replace(" ", "-"))
        if found and (kind is None or found in self._table(kind)):
            return found
        pool = self._table(kind).values() if kind else self.entities()
        candidates = {normalize_name(n): e.id for e in pool for n in e.names}
        close = difflib.get_close_matches(key, list(candidates), n=3, cutoff=0.6)
        suggestions = list(dict.fromkeys(candidates[c] for c in close))
        raise UnknownName(name, kind, suggestions)

    def observation(self, defense: str, risk: str) -> Observation | None:
        for obs in self.observations:
            if obs.defense == defense and obs.risk == risk:
                return obs
        return None

    def combination(self, a: str, b: str) -> CombinationObservation | None:
        """The reported joint deployment of defenses ``a`` and ``b`` (in either order), if any."""
        for obs in self.combinations:
            if set(obs.defenses) == {a, b}:
                return obs
        return None

    def stats(self) -> dict[str, int]:
        return {
            "defenses": len(self.defenses),
            "risks": len(self.risks),
            "factors": len(self.factors),
            "mediators": sum(n.kind == "mediator" for n in self.nodes.values()),
            "mechanism_nodes": sum(n.kind == "mechanism" for n in self.nodes.values()),
            "mechanism_edges": len(self.edges),
            "observations": len(self.observations),
            "references": len(self.references),
            "combinations": len(self.combinations),
        }
