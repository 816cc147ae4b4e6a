"""The embedded SQLite results store: one row per finished seed, one per validation summary, one per sweep.

Rows are keyed by the hash of the full configuration (which includes the code version), so a
finished configuration re-runs instantly and an interrupted one re-runs only its missing seeds.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import platformdirs

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


def default_store_path() -> Path:
    return Path(platformdirs.user_cache_dir("interplay")) / "results.sqlite"


class ResultStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def runs(self, config_hash: str) -> dict[int, dict]:
        with self._connect() as db:
            rows = db.execute("SELECT seed, record FROM runs WHERE config_hash = ?", (config_hash,)).fetchall()
        return {seed: json.loads(record) for seed, record in rows}

    def save_run(self, config_hash: str, seed: int, record: dict) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)", (config_hash, seed, json.dumps(record), time.time())
            )

    def save_validation(self, config_hash: str, config: dict, summary: dict) -> None:
        with self._connect() as db:
            db.execute(
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
        with self._connect() as db:
            rows = db.execute("SELECT summary, updated FROM validations ORDER BY updated DESC").fetchall()
        return [json.loads(summary) | {"updated": updated} for summary, updated in rows]

    def save_sweep(self, config_hash: str, edge_ids: list[str], summary: dict) -> None:
        """Store a factor sweep's verdict on KB edges (format: :mod:`interplay.interactions.validated`).

        ``summary["edges"][edge_id]["verdict"]`` must be one of ``SWEEP_VERDICTS`` for every id in ``edge_ids``.
        """
        per_edge = summary.get("edges", {})
        for e in edge_ids:
            if per_edge.get(e, {}).get("verdict") not in SWEEP_VERDICTS:
                raise ValueError(f"sweep summary: edges[{e!r}].verdict must be one of {', '.join(SWEEP_VERDICTS)}")
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?)",
                (config_hash, json.dumps(list(edge_ids)), json.dumps(summary), time.time()),
            )

    def sweeps(self) -> list[dict]:
        """Every stored sweep summary with its ``config_hash``, ``edge_ids`` and ``updated``, newest first."""
        with self._connect() as db:
            cursor = db.execute("SELECT config_hash, edges, summary, updated FROM sweeps ORDER BY updated DESC")
            rows = cursor.fetchall()
        return [
            json.loads(summary) | {"config_hash": key, "edge_ids": json.loads(edges), "updated": updated}
            for key, edges, summary, updated in rows
        ]
