"""The embedded SQLite results store: one row per finished seed, one per validation summary, one per sweep.

Rows are keyed by the hash of the full configuration (which includes the code version), so a
finished configuration re-runs instantly and an interrupted one re-runs only its missing seeds.

Reading commands open a store with ``readonly=True``: the file is opened read-only (never created, nor its
folder, nor a table added) and must already be an interplay store. Writing commands create it. A path that is
empty, a folder, not SQLite, damaged, or a SQLite database of something else, and a row with bad JSON or missing
keys, raise :class:`StoreError` (a usage error naming the file). A store that cannot be *written* (a read-only file
or folder, a full disk) does not stop a run: the first failed write warns once (:class:`StoreWriteWarning`),
:attr:`ResultStore.write_error` says why, later writes are skipped and the caller keeps its records in memory.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from interplay.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT NOT NULL, seed INTEGER NOT NULL, record TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (config_hash, seed));
CREATE TABLE IF NOT EXISTS validations (
    config_hash TEXT PRIMARY KEY, defense TEXT NOT NULL, risk TEXT NOT NULL, dataset TEXT NOT NULL,
    code_version TEXT NOT NULL, config TEXT NOT NULL, summary TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    config_hash TEXT PRIMARY KEY, edges TEXT NOT NULL, summary TEXT NOT NULL, updated REAL NOT NULL);
"""
SWEEP_VERDICTS = ("confirms", "contradicts", "inconclusive")
# The crash tests' fault injection (tests/test_crash_consistency.py): ``TABLE:N:STAGE`` kills this process (SIGKILL) at
# its N-th write to TABLE (runs, validations, sweeps), ``during`` it (the row written, not committed) or ``after`` it.
CRASH_ENV = "INTERPLAY_CRASH_AT"
_writes: dict[str, int] = {}
# The tables that make a SQLite file an interplay store (``sweeps`` came later: a store without it has none).
STORE_TABLES = ("runs", "validations")
# The keys every stored validation summary has (what ``results``, ``status`` and the exports read).
SUMMARY_KEYS = ("defense", "risk", "prediction", "observed", "verdict", "effect", "defense_effective", "seeds",
                "dataset")  # fmt: skip


class StoreError(UsageError):
    """A results store that cannot be opened or read: the message names the file and what is wrong with it."""


class StoreWriteWarning(UserWarning):
    """A results store could not be written: the run goes on, its results are not stored."""


def default_store_path() -> Path:
    return Path(platformdirs.user_cache_dir("interplay")) / "results.sqlite"


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


class ResultStore:
    """The store at ``path`` (default: :func:`default_store_path`); ``readonly``: open it for reading only."""

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False):
        if path is not None and not str(path).strip():
            raise StoreError("the results store path is empty; give a file such as results.sqlite")
        self.path = Path(path) if path is not None else default_store_path()
        self.readonly = readonly
        self.write_error: str | None = None
        self.tables: tuple[str, ...] = ()
        if self.path.is_dir():
            raise StoreError(f"the results store {self.path} is a folder; give a file such as results.sqlite")
        if readonly:
            if not self.path.exists():
                raise StoreError(f"no results store at {self.path}")
            self.tables = self._check_tables()
            return
        if self.path.is_file() and self.path.stat().st_size > 0:
            self.tables = self._check_tables()  # refuse a foreign or damaged file before changing anything
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._transaction() as db:
                db.executescript(_SCHEMA)
            self.tables = (*STORE_TABLES, "sweeps")
        except (OSError, sqlite3.Error) as exc:
            self._write_failed(exc)

    # --- connections ------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.readonly or self.write_error:
            return sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=30)
        return sqlite3.connect(self.path, timeout=30)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db, db:
            yield db

    def _check_tables(self) -> tuple[str, ...]:
        """The tables of an existing file, which must be an interplay store (read-only: nothing is changed)."""
        try:
            uri = f"{self.path.absolute().as_uri()}?mode=ro"
            with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
                tables = tuple(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the results store {self.path}: {_why(exc)}") from None
        missing = [t for t in STORE_TABLES if t not in tables]
        if missing:
            what = f"a SQLite database with tables {', '.join(tables)}" if tables else "an empty file"
            raise StoreError(
                f"{self.path} is not an interplay results store ({what}; no {' or '.join(missing)} table); "
                "give another --store path"
            )
        return tables

    def _read(self, table: str, sql: str, params: tuple = ()) -> list[tuple]:
        if self.write_error and not self.path.is_file():
            return []  # the store could not be created: nothing stored
        if table not in self.tables:
            return []
        try:
            with closing(self._connect()) as db:
                return db.execute(sql, params).fetchall()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot read the results store {self.path}: {_why(exc)}") from None

    def _write(self, table: str, sql: str, params: tuple) -> bool:
        """Run one write to ``table`` in one transaction; False (after warning once) when the store cannot be
        written."""
        if self.readonly:
            raise StoreError(f"the results store {self.path} was opened read-only")
        if self.write_error:
            return False
        _writes[table] = _writes.get(table, 0) + 1
        try:
            with self._transaction() as db:
                db.execute(sql, params)
                _crash_point(table, "during")
        except (OSError, sqlite3.Error) as exc:
            self._write_failed(exc)
            return False
        _crash_point(table, "after")
        return True

    def _write_failed(self, exc: BaseException) -> None:
        self.write_error = f"cannot write the results store {self.path}: {_why(exc)}"
        warnings.warn(
            f"{self.write_error}; this run's results are kept in memory and returned, but not stored",
            StoreWriteWarning,
            stacklevel=3,
        )

    def _bad_row(self, where: str, problem: str) -> StoreError:
        return StoreError(
            f"the results store {self.path} is damaged: {where}: {problem}; delete that row or the file, "
            "or give another --store path"
        )

    def _json(self, text: Any, where: str, kind: type = dict) -> Any:
        try:
            value = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise self._bad_row(where, f"not valid JSON ({exc})") from None
        if not isinstance(value, kind):
            want = "an object" if kind is dict else "a list"
            raise self._bad_row(where, f"a JSON {type(value).__name__}, not {want}")
        return value

    # --- runs, validations, sweeps ------------------------------------------------------------------------------

    def runs(self, config_hash: str) -> dict[int, dict]:
        rows = self._read("runs", "SELECT seed, record FROM runs WHERE config_hash = ?", (config_hash,))
        out = {}
        for seed, record in rows:
            where = f"table runs, configuration {config_hash}, seed {seed}"
            doc = self._json(record, where)
            if doc.get("seed") != seed:
                raise self._bad_row(where, f"the record's seed is {doc.get('seed')!r}")
            out[seed] = doc
        return out

    def save_run(self, config_hash: str, seed: int, record: dict) -> bool:
        return self._write("runs", "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
                           (config_hash, seed, json.dumps(record), time.time()))  # fmt: skip

    def save_validation(self, config_hash: str, config: dict, summary: dict) -> bool:
        return self._write(
            "validations",
            "INSERT OR REPLACE INTO validations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                config_hash,
                config["defense"],
                config["risk"],
                config["settings"]["dataset"],
                config["code_version"],
                json.dumps(config),
                json.dumps(summary),
                time.time(),
            ),
        )

    def validations(self) -> list[dict]:
        """Every stored validation summary, newest first."""
        rows = self._read("validations",
                          "SELECT config_hash, summary, updated FROM validations ORDER BY updated DESC")  # fmt: skip
        out = []
        for key, summary, updated in rows:
            where = f"table validations, configuration {key}"
            doc = self._json(summary, where)
            missing = [k for k in SUMMARY_KEYS if k not in doc]
            if missing:
                raise self._bad_row(where, f"the summary has no {', '.join(missing)}")
            if not isinstance(doc["effect"], dict) or not isinstance(doc["effect"].get("p_value"), int | float):
                raise self._bad_row(where, "the summary's effect has no numeric p_value")
            if not all(isinstance(doc[k], str) for k in ("defense", "risk", "observed", "verdict", "dataset")):
                raise self._bad_row(where, "defense, risk, observed, verdict and dataset must be strings")
            out.append(doc | {"updated": updated})
        return out

    def save_sweep(self, config_hash: str, edge_ids: list[str], summary: dict) -> bool:
        """Store a factor sweep's verdict on KB edges (format: :mod:`interplay.interactions.validated`).

        ``summary["edges"][edge_id]["verdict"]`` must be one of ``SWEEP_VERDICTS`` for every id in ``edge_ids``.
        """
        per_edge = summary.get("edges", {})
        for e in edge_ids:
            if per_edge.get(e, {}).get("verdict") not in SWEEP_VERDICTS:
                raise ValueError(f"sweep summary: edges[{e!r}].verdict must be one of {', '.join(SWEEP_VERDICTS)}")
        return self._write("sweeps", "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?)",
                           (config_hash, json.dumps(list(edge_ids)), json.dumps(summary), time.time()))  # fmt: skip

    def sweeps(self) -> list[dict]:
        """Every stored sweep summary with its ``config_hash``, ``edge_ids`` and ``updated``, newest first."""
        rows = self._read("sweeps", "SELECT config_hash, edges, summary, updated FROM sweeps ORDER BY updated DESC")
        out = []
        for key, edges, summary, updated in rows:
            where = f"table sweeps, configuration {key}"
            doc, edge_ids = self._json(summary, where), self._json(edges, where, list)
            if not isinstance(doc.get("edges", {}), dict):
                raise self._bad_row(where, "the summary's edges are not an object")
            out.append(doc | {"config_hash": key, "edge_ids": edge_ids, "updated": updated})
        return out


def _crash_point(table: str, stage: str) -> None:
    """SIGKILL this process here if ``$INTERPLAY_CRASH_AT`` names this write of ``table`` and ``stage``
    (:data:`CRASH_ENV`); nothing when it is unset."""
    spec = os.environ.get(CRASH_ENV, "").split(":")
    if len(spec) == 3 and spec[0] == table and spec[2] == stage and spec[1] == str(_writes.get(table)):
        os.kill(os.getpid(), signal.SIGKILL)
