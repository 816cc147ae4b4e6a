"""`interplay kb ...` and `interplay list ...`: inspect and validate the knowledge base."""

from __future__ import annotations

from enum import Enum

import typer
from rich.table import Table

from interplay.cli.common import Json, KBDir, Overlay, console, emit_json, errors, esc, open_kb
from interplay.kb.integrity import cycle_report

kb_app = typer.Typer(help="Validate and inspect the knowledge base.", no_args_is_help=True)


@kb_app.command("validate")
def validate(kb: KBDir = None, overlay: Overlay = None, json: Json = False) -> None:
    """Check the KB's schema and integrity; exit 0 when valid, 1 with file/id/field/reason when not."""
    k = open_kb(kb, overlay, json)
    report = cycle_report(k)
    if json:
        emit_json(
            {
                "valid": True,
                "stats": k.stats(),
                "cycles": report.cycles,
                "cyclic_components": report.components,
                "cycles_truncated": report.truncated,
            }
        )
        return
    console.print(f"[green]valid[/]: {', '.join(f'{v} {n}' for n, v in k.stats().items())}")
    for c in report.cycles:
        console.print(f"[yellow]cycle[/] (reported, not an error): {esc(' -> '.join([*c, c[0]]))}")
    if report.truncated:
        console.print(
            f"[yellow]{len(report.cycles)} of more cycles shown[/], in {len(report.components)} looping "
            f"group(s) of nodes: {esc('; '.join(', '.join(c) for c in report.components))}"
        )


@kb_app.command("stats")
def stats(kb: KBDir = None, overlay: Overlay = None, json: Json = False) -> None:
    """Count the KB's objects."""
    s = open_kb(kb, overlay, json).stats()
    if json:
        emit_json(s)
        return
    t = Table("object", "count", title="Knowledge base")
    for n, v in s.items():
        t.add_row(esc(n), str(v))
    console.print(t)


@kb_app.command("show")
def show(name: str, kb: KBDir = None, overlay: Overlay = None, json: Json = False) -> None:
    """Show one entity (by slug, SoK code or alias) with the edges that touch it."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        eid = k.resolve(name)
    ent = k.entity(eid)
    edges = [e for e in k.edges if eid in (e.source, e.target)]
    if json:
        emit_json({"kind": k.kind_of(eid), **ent.model_dump(), "edges": [e.model_dump() for e in edges]})
        return
    code = f", {esc(ent.code)}" if ent.code else ""
    console.print(f"[bold]{esc(ent.name)}[/] ({esc(k.kind_of(eid))} [cyan]{esc(eid)}[/]{code})")
    if ent.aliases:
        console.print(f"aliases: {esc(', '.join(ent.aliases))}")
    console.print(ent.description, markup=False)
    t = Table("edge", "sign", "reading", "evidence")
    for e in edges:
        t.add_row(
            esc(f"{e.source} -> {e.target}"),
            esc(e.sign),
            esc(e.interpretation),
            esc(", ".join(v.ref for v in e.evidence)),
        )
    console.print(t)


class Listable(str, Enum):
    defenses = "defenses"
    risks = "risks"
    factors = "factors"


def list_entities(what: Listable, kb: KBDir = None, overlay: Overlay = None, json: Json = False) -> None:
    """List defenses, risks or factors."""
    k = open_kb(kb, overlay, json)
    items = list(getattr(k, what.value).values())
    if json:
        emit_json([i.model_dump() for i in items])
        return
    t = Table("slug", "code", "name", "aliases", title=what.value.capitalize())
    for i in items:
        t.add_row(esc(i.id), esc(i.code or ""), esc(i.name), esc(", ".join(i.aliases)))
    console.print(t)
