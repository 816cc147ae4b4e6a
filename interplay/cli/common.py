"""Shared CLI plumbing: common options, KB loading, JSON output and clean error exits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from interplay.kb import KB, KBError, UnknownName, load_kb

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

KBDir = Annotated[Path | None, typer.Option("--kb", help="Use this KB directory instead of the built-in one.")]
Overlay = Annotated[
    list[Path] | None, typer.Option("--overlay", help="A KB directory that adds objects to the base (repeatable).")
]
Json = Annotated[bool, typer.Option("--json", help="Write exactly one JSON document to stdout.")]

# Options of the commands that run or read experiments.
DATASETS = ("synthetic", "digits", "adult")
Store = Annotated[
    Path | None, typer.Option("--store", help="The results database (default: under the user cache dir).")
]
Dataset = Annotated[str, typer.Option("--dataset", help="synthetic, digits or adult.")]
Seeds = Annotated[int | None, typer.Option("--seeds", help="Paired seeds (at least 2; default 8, 3 with --quick).")]
Quick = Annotated[bool, typer.Option("--quick", help="Smaller data and fewer epochs.")]
DataPath = Annotated[Path | None, typer.Option("--data-path", help="Folder with adult.data and adult.test.")]
Jobs = Annotated[int | None, typer.Option("--jobs", help="Seeds measured at once, in separate processes "
                                                         "(default: the CPUs available; results are the same).")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error (no traceback) and exit; 2 is a usage error."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def check_run_options(dataset: str, seeds: int | None, jobs: int | None = None) -> None:
    """Usage errors of the experiment options, before anything is trained."""
    if seeds is not None and seeds < 2:
        fail(f"--seeds must be at least 2 for a paired comparison (got {seeds})")
    if jobs is not None and jobs < 1:
        fail(f"--jobs must be at least 1 (got {jobs})")
    if dataset not in DATASETS:
        fail(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def open_kb(kb_dir: Path | None = None, overlay: list[Path] | None = None) -> KB:
    try:
        return load_kb(kb_dir, overlay or ())
    except KBError as exc:
        err_console.print(f"[bold red]The knowledge base is invalid[/] ({len(exc.problems)} problem(s)):")
        for p in exc.problems:
            err_console.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(1) from None


def resolve(kb: KB, name: str, kind: str | None = None) -> str:
    try:
        return kb.resolve(name, kind)
    except UnknownName as exc:
        fail(str(exc))


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
