"""Shared CLI plumbing: common options, clean error exits, JSON output and the progress bar."""

from __future__ import annotations

import json as jsonlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from interplay import api
from interplay.errors import UsageError
from interplay.kb import KB, KBError
from interplay.progress import rich_bar

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class Method(str, Enum):
    graph = "graph"
    guideline = "guideline"
    shortest_path = "shortest-path"


KBDir = Annotated[Path | None, typer.Option("--kb", help="Use this KB directory instead of the built-in one.")]
Overlay = Annotated[
    list[Path] | None, typer.Option("--overlay", help="A KB directory that adds objects to the base (repeatable).")
]
Json = Annotated[bool, typer.Option("--json", help="Write exactly one JSON document to stdout.")]
MethodOpt = Annotated[Method, typer.Option("--method", "-m", help="Prediction method.")]
ContextOpt = Annotated[
    list[str] | None,
    typer.Option("--context", "-c", help="KEY=VALUE, e.g. adversary=malicious-accuser (repeatable)."),
]

# Options of the commands that run or read experiments.
Store = Annotated[
    Path | None, typer.Option("--store", help="The results database (default: under the user cache dir).")
]
Dataset = Annotated[
    str,
    typer.Option(
        "--dataset",
        help="synthetic, digits, adult, fashion-mnist (docs/images.md), or a file: csv:PATH, parquet:PATH, npz:PATH "
        "(docs/your-data.md).",
    ),
]
# Options of a user's data and model (docs/your-data.md).
Label = Annotated[str | None, typer.Option("--label", help="The column to predict (csv and parquet files).")]
Sensitive = Annotated[
    str | None,
    typer.Option("--sensitive", help="A binary column, the sensitive attribute (s = 1 the smaller group; no input)."),
]
Drop = Annotated[list[str] | None, typer.Option("--drop", help="Columns to leave out, comma-separated or repeated.")]
NTrain = Annotated[
    int | None, typer.Option("--n-train", help="Training records (test and aux: as many, at most; default: preset's).")
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="small|medium|large|xlarge (capacity presets), mlp:W1,W2,..., cnn or cnn:C1,C2, or a plugin's model name.",
    ),
]
Seeds = Annotated[int | None, typer.Option("--seeds", help="Paired seeds (at least 2; default 8, 3 with --quick).")]
SeedPlan = Annotated[
    str | None,
    typer.Option(
        "--seeds",
        help="Paired seeds (2..1000; default 8, 3 with --quick), or auto: groups of 8 until the cell is decided "
        "or --max-seeds are spent.",
    ),
]
MaxSeeds = Annotated[
    int | None, typer.Option("--max-seeds", help="With --seeds auto: the most seeds a cell may take (2..1000; 32).")
]


def parse_seeds(value: str | None, json: bool = False) -> int | str | None:
    """``--seeds``: a whole number, ``auto``, or nothing (the preset's); anything else exits 2."""
    if value is None or value.strip().lower() == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        fail(f"--seeds must be a whole number from 2 to 1000, or auto; got {value!r}", json=json)


Preset = Annotated[str | None, typer.Option("--preset", help="default or quick (smaller data, fewer epochs).")]
Quick = Annotated[bool, typer.Option("--quick", help="The quick preset (same as --preset quick).")]
SettingOpt = Annotated[
    str,
    typer.Option(
        "--setting",
        help="literature: the conditions the cell's papers state (KB facts, regimes); generic: the shared settings; "
        "auto: literature where the KB declares the cell's setting.",
    ),
]
Param = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="PLUGIN.KEY=VALUE, e.g. adversarial-training.eps=0.1 (repeatable; `interplay plugins` lists them).",
    ),
]
Defenses = Annotated[
    str,
    typer.Option(
        "--defenses",
        help="sok (the SoK's seven defenses), all (with the eight beyond it), or names separated by commas.",
    ),
]
DataPath = Annotated[
    Path | None,
    typer.Option("--data-path", help="Folder with adult.data and adult.test, or with the Fashion-MNIST IDX files."),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        help="Seeds measured at once, in separate processes (default: the CPUs available; results are the same); "
        "with --executor ray, the Ray workers (default: the cluster's CPUs).",
    ),
]
# Where the seeds run (docs/cluster.md).
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help='local: processes on this machine (the default); ray: a Ray cluster (pip install -e ".[ray]").',
    ),
]
Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="With --executor ray: the cluster, HOST:PORT or auto (default: $RAY_ADDRESS; none: start a local Ray).",
    ),
]


def fail(message: str, code: int = 2, json: bool = False, kind: str = "UsageError") -> NoReturn:
    """Report an error (no traceback) and exit; 2 is a usage error. With ``--json`` the error is one document."""
    if json:
        emit_json({"error": {"kind": kind, "message": message}})
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(code)


class JsonErrors(TyperGroup):
    """The root command group. A command line that does not parse (an unknown option, a value of the wrong type, a
    missing argument) still writes one document ``{"error": {"kind", "message"}}`` to stdout when ``--json`` is
    among the arguments; the message also goes to stderr and the exit status stays 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["interplay.json"] = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as exc:
            _json_error(ctx, exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            _json_error(ctx, exc)
            raise


def _json_error(ctx: Any, exc: typer.TyperException) -> None:
    if ctx.meta.get("interplay.json"):
        kind = "UsageError" if exc.exit_code == 2 else type(exc).__name__
        emit_json({"error": {"kind": kind, "message": exc.format_message()}})


@contextmanager
def errors(json: bool = False) -> Iterator[None]:
    """Wrong input (any :class:`~interplay.errors.UsageError`) exits 2 with its message; an invalid KB exits 1
    listing file, object, field and reason; a failing third-party plugin exits 1 naming it, and so do seeds that
    failed on a cluster (naming their configurations) and a lost cluster."""
    from interplay.extensions import PluginLoadError
    from interplay.validators.executors import RunFailed

    try:
        yield
    except UsageError as exc:
        fail(str(exc), 2, json, type(exc).__name__)
    except RunFailed as exc:  # seeds that raised on a cluster, or a lost cluster: what finished is stored
        fail(str(exc), 1, json, type(exc).__name__)
    except KBError as exc:
        if json:
            emit_json({"error": {"kind": "KBError", "message": "; ".join(map(str, exc.problems))}})
        err_console.print(f"[bold red]The knowledge base is invalid[/] ({len(exc.problems)} problem(s)):")
        for p in exc.problems:
            err_console.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    except PluginLoadError as exc:
        fail(str(exc), 1, json, "PluginLoadError")


def open_kb(kb_dir: Path | None = None, overlay: list[Path] | None = None, json: bool = False) -> KB:
    with errors(json):
        return api.load_kb(kb_dir, overlay or ())
    raise AssertionError("unreachable")  # pragma: no cover


def esc(value: object) -> str:
    """``value`` as text that rich prints verbatim inside markup: every user- or KB-supplied string that goes
    into a markup string, a table cell or a tree label passes through here (``[/]``, ``[link=...]`` stay text)."""
    return escape(str(value))


def parse_context(items: list[str] | None, json: bool = False) -> dict[str, str]:
    """``--context KEY=VALUE`` options as a mapping; a key given twice with different values is an error."""
    ctx: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            fail(f"--context expects KEY=VALUE, got {item!r}", json=json)
        if ctx.get(key, value) != value:
            fail(f"--context {key} is given twice, as {ctx[key]!r} and as {value!r}; give it once", json=json)
        ctx[key] = value
    return ctx


def data_options(
    label: str | None, sensitive: str | None, drop: list[str] | None, n_train: int | None, model: str | None
) -> dict:
    """The user's data and model options as the API's keyword arguments (``--drop`` split at commas)."""
    columns = [c.strip() for item in drop or [] for c in item.split(",") if c.strip()]
    return {"label": label, "sensitive": sensitive, "drop": columns, "n_train": n_train, "model": model}


def preset_of(preset: str | None, quick: bool, json: bool = False) -> str:
    """``--preset``, with ``--quick`` as its alias."""
    if quick and preset not in (None, "quick"):
        fail(f"--quick contradicts --preset {preset}", json=json)
    return "quick" if quick else (preset or "default")


def emit_json(doc: Any) -> None:
    sys.stdout.write(jsonlib.dumps(doc, indent=2, default=str) + "\n")


class ProgressBar:
    """The API's progress sink as a transient rich progress bar on stderr."""

    def __init__(self) -> None:
        self.bar = rich_bar(err_console)
        self.task: Any = None

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def start(self, total: int, description: str) -> None:
        self.task = self.bar.add_task(description, total=total)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if description is None:
            self.bar.advance(self.task, n)
        else:
            self.bar.update(self.task, advance=n, description=description)


def score_table(title: str, docs: list[dict]) -> Table:
    """Evaluation scores (``eval loo``, ``eval file``) side by side."""
    t = Table("method", "n", "covered", "correct", "accuracy", "95% CI", "coverage", title=title)
    for d in docs:
        ci = d["accuracy_ci95"]
        t.add_row(
            esc(d["method"]),
            str(d["n"]),
            str(d["covered"]),
            str(d["correct"]),
            f"{d['accuracy']:.2f}",
            f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-",
            f"{d['coverage']:.2f}",
        )
    return t
