"""Shared by the API's modules: the argument types, progress, the KB and the results store as the API reads them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import interplay.extensions as extensions
from interplay.arguments import checked
from interplay.errors import ArgumentValueError, UsageError
from interplay.interactions.validated import Validations, load_validations
from interplay.kb import KB
from interplay.kb import load_kb as _load_kb

if TYPE_CHECKING:
    pass


KBLike = KB | str | Path | None
StoreLike = str | Path | None
Params = Mapping[str, Any] | Iterable[str] | None
# A model: a spec string (a capacity preset, mlp:W1,W2,..., cnn[:C1,C2], a plugin's model) or a factory
# ``factory(input_shape, n_classes) -> torch.nn.Module``.
ModelLike = str | Callable[..., Any] | None
# Where the seeds run: "local" (processes on this machine), "ray" (a Ray cluster; the ray extra), or an
# interplay.validators.executors.Executor kept across calls (e.g. one RayExecutor for a notebook session).
ExecutorLike = str | Any
REPRODUCTIONS = ("sok-5.1", "sok-5.2")


class Progress(Protocol):
    """Where long runs report progress (the command line's progress bar; any object with these methods)."""

    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1, description: str | None = None) -> None: ...


class _Silent:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1, description: str | None = None) -> None:
        pass


def _progress(progress: Progress | None) -> Progress:
    """``progress``, else a bar in the running notebook cell (:mod:`interplay.progress`), else nothing."""
    from interplay.progress import default

    return progress or default() or _Silent()


@checked
def load_kb(kb_dir: str | Path | None = None, overlays: Iterable[str | Path] = (), *, plugins: bool = True) -> KB:
    """The KB at ``kb_dir`` (default: the built-in one) plus ``overlays`` and, with ``plugins``, the overlays of
    installed third-party plugins."""
    extra = extensions.kb_overlays() if plugins else []
    return _load_kb(kb_dir, [*overlays, *extra])


@functools.cache
def _default_kb() -> KB:
    return load_kb()


def _kb(kb: KBLike) -> KB:
    if isinstance(kb, KB):
        return kb
    return _default_kb() if kb is None else load_kb(kb)


def read_validations(store: StoreLike = None) -> Validations:
    """The validated-here layer (verdicts and sweep marks) from ``store`` (default: the default store, read
    when it exists); a ``store`` path that does not exist or cannot be read is a usage error. The store is
    opened read-only: reading never creates a file or a folder, nor changes a database."""
    from interplay.validators.store import StoreError

    if store is not None and str(store).strip() and not Path(store).exists():
        raise StoreError(f"no results store at {store}")
    try:
        return load_validations(store)
    except UsageError:  # StoreError: empty path, a folder, not an interplay store, a damaged row
        raise
    except Exception as exc:  # anything else the reader trips on: still the store's fault, not a traceback
        raise UsageError(f"cannot read the results store {store}: {exc}") from None


def _check_evidence(evidence: str) -> None:
    from interplay.interactions.graph import EVIDENCE

    if evidence not in EVIDENCE:
        raise ArgumentValueError(f"unknown evidence {evidence!r}; choose one of {', '.join(EVIDENCE)}")


def _check_method(method: str) -> None:
    from interplay.interactions.reasoner import METHODS

    if method not in METHODS:
        raise ArgumentValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


@checked
def select_defenses(names: Iterable[str] | str | None = "sok", *, kb: KBLike = None) -> list[str]:
    """Defense slugs in KB order: ``sok`` (the SoK's seven), ``all`` (or None), or names (slugs, SoK codes,
    aliases; a comma-separated string or a list)."""
    return _select(_kb(kb), names, "defense")


def _select(k: KB, names: Iterable[str] | str | None, kind: str) -> list[str]:
    every = list(k.defenses if kind == "defense" else k.risks)
    if names is None or names == "all":
        return every
    if kind == "defense" and names == "sok":
        return k.sok_defenses
    given = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    wanted = {k.resolve(n.strip(), kind) for n in given if n.strip()}
    if not wanted:
        raise UsageError(
            f"{kind}s {','.join(given)!r} selects no {kind}; name at least one (slug, SoK code or alias), or "
            + ("sok (the SoK's seven) or all" if kind == "defense" else f"leave the selection out for every {kind}")
        )
    return [slug for slug in every if slug in wanted]
