"""The `--store` option of the commands that read experiment results back, and its reader."""

from __future__ import annotations

from pathlib import Path

from interplay.cli.common import fail
from interplay.interactions.validated import Validations, load_validations


def read_store(store: Path | None) -> Validations:
    """The validated-here layer from ``store`` (default store when None); a missing --store is an error."""
    if store is not None and not store.is_file():
        fail(f"no results store at {store}")
    try:
        return load_validations(store)
    except Exception as exc:  # sqlite3.DatabaseError, json errors: an unreadable store, never a traceback
        fail(f"cannot read the results store {store}: {exc}")
