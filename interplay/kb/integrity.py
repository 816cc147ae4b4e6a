"""Integrity checks that cross objects: unique ids and aliases, endpoints, references, contexts, cycles."""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import NamedTuple

import networkx as nx
from pydantic import BaseModel

from interplay.kb.errors import Problem
from interplay.kb.model import KB, normalize_name
from interplay.kb.schema import CombinationObservation, Edge, Observation


def _check_context(file: str, oid: str, fld: str, cond: dict[str, str], contexts, out: list[Problem]) -> None:
    for key, value in cond.items():
        if key not in contexts:
            out.append(Problem(file, oid, f"{fld}.{key}", f"unknown context key (known: {', '.join(contexts)})"))
        elif value not in contexts[key].values:
            out.append(Problem(file, oid, f"{fld}.{key}", f"unknown value {value!r} (allowed: {contexts[key].values})"))


def check(objects: dict[str, list[tuple[str, BaseModel]]]) -> tuple[KB, list[Problem]]:
    """Build the KB from parsed objects and return it with every cross-object problem found."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    tables: dict[str, dict] = {}
    sources: dict[str, str] = {}
    sections = ("defenses", "risks", "factors", "nodes", "references", "contexts", "edges", "observations")
    for section in (*sections, "combinations"):
        tables[section] = {}
        for file, obj in objects[section]:
            oid: str = getattr(obj, "key" if section == "references" else "id")  # the section's schema model
            scope = "entity" if section in ("defenses", "risks", "factors", "nodes") else section
            if (scope, oid) in seen:
                problems.append(Problem(file, oid, "id", f"duplicate id (first defined in {seen[(scope, oid)]})"))
                continue
            seen[(scope, oid)] = file
            sources[f"{section}:{oid}"] = file
            tables[section][oid] = obj
    refs, contexts = tables["references"], tables["contexts"]
    entity_ids = {k for s in ("defenses", "risks", "factors", "nodes") for k in tables[s]}

    owner: dict[str, str] = {}
    for section in ("defenses", "risks", "factors", "nodes"):
        for ent in tables[section].values():
            for n in {normalize_name(x) for x in ent.names}:
                if n in owner and owner[n] != ent.id:
                    problems.append(
                        Problem(
                            sources[f"{section}:{ent.id}"], ent.id, "aliases", f"name {n!r} also used by {owner[n]}"
                        )
                    )
                owner.setdefault(n, ent.id)

    for d in tables["defenses"].values():
        for t in d.targets:
            if t not in tables["risks"]:
                problems.append(Problem(sources[f"defenses:{d.id}"], d.id, "targets", f"unknown risk {t!r}"))
        for r in d.refs:
            if r not in refs:
                problems.append(Problem(sources[f"defenses:{d.id}"], d.id, "refs", f"unknown reference {r!r}"))
    for r in tables["risks"].values():
        for f in r.exploits:
            if f not in tables["factors"]:
                problems.append(Problem(sources[f"risks:{r.id}"], r.id, "exploits", f"unknown factor {f!r}"))
    for f in tables["factors"].values():
        for m in f.drives:
            node = tables["nodes"].get(m)
            if node is None or node.kind != "mediator":
                problems.append(Problem(sources[f"factors:{f.id}"], f.id, "drives", f"unknown mediator {m!r}"))
    for c in contexts.values():
        if c.default not in c.values:
            problems.append(Problem(sources[f"contexts:{c.id}"], c.id, "default", "default is not one of the values"))

    for e in tables["edges"].values():
        problems += _edge_problems(sources[f"edges:{e.id}"], e, entity_ids, refs, contexts)
    for o in tables["observations"].values():
        problems += _observation_problems(sources[f"observations:{o.id}"], o, tables, refs, contexts)
    seen_cells: dict[tuple[str, str], str] = {}
    for o in tables["observations"].values():
        if (o.defense, o.risk) in seen_cells:
            problems.append(
                Problem(
                    sources[f"observations:{o.id}"],
                    o.id,
                    "risk",
                    f"cell already observed by {seen_cells[(o.defense, o.risk)]}",
                )
            )
        seen_cells[(o.defense, o.risk)] = o.id
    seen_pairs: dict[frozenset[str], str] = {}
    for c in tables["combinations"].values():
        file = sources[f"combinations:{c.id}"]
        problems += _combination_problems(file, c, tables["defenses"], refs, contexts)
        pair = frozenset(c.defenses)
        if pair in seen_pairs:
            problems.append(Problem(file, c.id, "defenses", f"pair already observed by {seen_pairs[pair]}"))
        seen_pairs.setdefault(pair, c.id)

    kb = KB(
        defenses=dict(sorted(tables["defenses"].items(), key=lambda item: item[1].scope != "sok")),  # the SoK's first
        risks=tables["risks"],
        factors=tables["factors"],
        nodes=tables["nodes"],
        edges=list(tables["edges"].values()),
        observations=list(tables["observations"].values()),
        references=refs,
        contexts=contexts,
        combinations=list(tables["combinations"].values()),
        sources=sources,
    )
    return kb, problems


def _edge_problems(file: str, e: Edge, entity_ids: set[str], refs: dict, contexts: dict) -> list[Problem]:
    out: list[Problem] = []
    for end in ("source", "target"):
        if getattr(e, end) not in entity_ids:
            out.append(Problem(file, e.id, end, f"edge to a missing node {getattr(e, end)!r}"))
    for i, ev in enumerate(e.evidence):
        if ev.ref not in refs:
            out.append(Problem(file, e.id, f"evidence.{i}.ref", f"unknown reference {ev.ref!r}"))
        _check_context(file, e.id, f"evidence.{i}.conditions", ev.conditions, contexts, out)
    _check_context(file, e.id, "conditions", e.conditions, contexts, out)
    return out


def _observation_problems(file: str, o: Observation, tables: dict, refs: dict, contexts: dict) -> list[Problem]:
    out: list[Problem] = []
    if o.defense not in tables["defenses"]:
        out.append(Problem(file, o.id, "defense", f"unknown defense {o.defense!r}"))
    if o.risk not in tables["risks"]:
        out.append(Problem(file, o.id, "risk", f"unknown risk {o.risk!r}"))
    for f in o.factors:
        if f not in tables["factors"]:
            out.append(Problem(file, o.id, f"factors.{f}", "unknown factor"))
    cited = [("refs", r) for r in o.refs] + [("source", o.source)]
    cited += [(f"exceptions.{i}.refs", r) for i, x in enumerate(o.exceptions) for r in x.refs]
    for fld, r in cited:
        if r not in refs:
            out.append(Problem(file, o.id, fld, f"unknown reference {r!r}"))
    for i, x in enumerate(o.exceptions):
        _check_context(file, o.id, f"exceptions.{i}.context", x.context, contexts, out)
    if o.setting is not None:  # a declared fact must come from a paper the cell itself cites
        own = {*o.refs, *(r for x in o.exceptions for r in x.refs)}
        for name, fact in o.setting.facts():
            if fact.ref not in refs:
                out.append(Problem(file, o.id, f"setting.{name}.ref", f"unknown reference {fact.ref!r}"))
            elif fact.ref not in own:
                reason = f"reference {fact.ref!r} is not among the observation's refs or its exceptions' refs"
                out.append(Problem(file, o.id, f"setting.{name}.ref", reason))
    return out


def _combination_problems(
    file: str, c: CombinationObservation, defenses: dict, refs: dict, contexts: dict
) -> list[Problem]:
    out = [
        Problem(file, c.id, f"defenses.{i}", f"unknown defense {d!r}")
        for i, d in enumerate(c.defenses)
        if d not in defenses
    ]
    for i, ev in enumerate(c.evidence):
        if ev.ref not in refs:
            out.append(Problem(file, c.id, f"evidence.{i}.ref", f"unknown reference {ev.ref!r}"))
        _check_context(file, c.id, f"evidence.{i}.conditions", ev.conditions, contexts, out)
    _check_context(file, c.id, "context", c.context, contexts, out)
    return out


CYCLE_LIMIT = 20


class CycleReport(NamedTuple):
    """Where the effect edges loop: every cyclic component, and at most ``limit`` example cycles, shortest first."""

    components: list[list[str]]
    cycles: list[list[str]]
    truncated: bool  # more simple cycles exist than ``cycles`` lists


def _effect_graph(kb: KB) -> nx.DiGraph:
    return nx.DiGraph((e.source, e.target) for e in kb.edges if e.interpretation == "effect")


def _cyclic_components(g: nx.DiGraph) -> list[list[str]]:
    loops = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1 or g.has_edge(min(c), min(c))]
    return sorted(loops, key=lambda c: (-len(c), c))


def _shortest_cycle_through(g: nx.DiGraph, v: str) -> list[str] | None:
    """A shortest directed cycle through ``v`` (breadth-first, linear time), starting at ``v``."""
    parent: dict[str, str | None] = {v: None}
    queue = deque([v])
    while queue:
        u = queue.popleft()
        if g.has_edge(u, v):
            path = [u]
            while (p := parent[path[-1]]) is not None:
                path.append(p)
            return path[::-1]
        for w in g.successors(u):
            if w not in parent:
                parent[w] = u
                queue.append(w)
    return None


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


def cycle_report(kb: KB, limit: int = CYCLE_LIMIT) -> CycleReport:
    """Cycles among the traversable (effect) edges, in bounded time however dense they are: never all simple cycles
    (exponentially many), but the shortest cycle through each node not yet on one (at most ``limit`` breadth-first
    searches) and the first ``limit + 1`` that Johnson's algorithm yields lazily."""
    g = _effect_graph(kb)
    components = _cyclic_components(g)
    found: set[tuple[str, ...]] = set()
    covered: set[str] = set()
    for v in (v for c in components for v in c):
        if len(found) >= limit:
            break
        if v not in covered and (c := _shortest_cycle_through(g, v)):
            found.add(_canonical(c))
            covered.update(c)
    found.update(_canonical(c) for c in islice(nx.simple_cycles(g), limit + 1))
    shown = sorted(found, key=lambda c: (len(c), c))[:limit]
    return CycleReport(components, [list(c) for c in shown], len(found) > limit)


def cyclic_components(kb: KB) -> list[list[str]]:
    """The strongly connected components of the effect edges that hold a cycle, largest first."""
    return _cyclic_components(_effect_graph(kb))


def cycles(kb: KB, limit: int = CYCLE_LIMIT) -> list[list[str]]:
    """At most ``limit`` directed cycles among the effect edges, shortest first; reported, not fatal."""
    return cycle_report(kb, limit).cycles
