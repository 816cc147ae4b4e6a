"""`interplay plugins`: every registered defense and risk probe, with its parameters and defaults."""

from __future__ import annotations

from rich.table import Table

from interplay import api
from interplay.cli.common import Json, console, emit_json, errors, esc


def plugins_cmd(json: Json = False) -> None:
    """List every defense and risk probe plugin with its parameters (set them with --param SLUG.KEY=VALUE)."""
    with errors(json):
        rows = api.plugins()
    if json:
        emit_json(rows)
        return
    t = Table("plugin", "parameter", "default", "domain", "meaning", title="Plugins (--param SLUG.KEY=VALUE)")
    for p in rows:
        params = p["params"] or [
            {
                "name": "",
                "type": "",
                "default": "",
                "doc": "(no parameters)",
                "choices": None,
                "domain": None,
                "context": None,
            }
        ]
        for i, q in enumerate(params):
            per_dataset = {d: v[q["name"]] for d, v in p["dataset_defaults"].items() if q["name"] in v}
            default = str(q["default"]) + "".join(f"; {d}: {v}" for d, v in per_dataset.items())
            doc = q["doc"]
            choices = f"one of {', '.join(q['choices'])}" if q["choices"] else None
            domain = " ".join(filter(None, [q["type"], q["domain"], choices]))
            doc += f" [--context {q['context']}]" if q["context"] else ""
            label = f"{esc(p['kind'])} [bold]{esc(p['slug'])}[/]" if i == 0 else ""
            if i == 0 and p.get("needs"):
                label += f"\nneeds: {esc(', '.join(p['needs']))}"
            t.add_row(label, esc(q["name"]), esc(default), esc(domain), esc(doc))
    console.print(t)
