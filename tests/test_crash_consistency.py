"""Crash consistency, in the style of Ray's restore tests: ``validate --all`` and ``sweep`` are killed (SIGKILL, no
clean-up runs) at chosen points, between seeds, while the store commits a seed, a summary or a sweep, and at an
arbitrary moment of training; the rerun must reuse exactly the seeds that were committed, recompute exactly the
others, leave no partial record, and end with the records of an uninterrupted run.

The kill points are the store's fault injection (``$INTERPLAY_CRASH_AT=TABLE:N:STAGE``, :mod:`.validators.store`):
``during`` kills inside the write's transaction (the row written, not committed), ``after`` once it is committed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

import interplay  # noqa: E402
from interplay.cli.app import app  # noqa: E402
from interplay.validators import store as store_module  # noqa: E402
from interplay.validators.store import CRASH_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFENSES, RISKS, SEEDS = ["label-smoothing", "dropout"], ["evasion"], 2
MATRIX = ["validate", "--all", "--defenses", ",".join(DEFENSES), "--risks", ",".join(RISKS), "--preset", "tiny",
          "--seeds", str(SEEDS), "--setting", "generic"]  # fmt: skip
SWEEP = ["sweep", "label-smoothing", "evasion", "--factor", "D1", "--values", "300,400", "--preset", "tiny",
         "--seeds", "2", "--setting", "generic"]  # fmt: skip
VOLATILE = {"runtime_s", "compute_s", "updated"}  # wall-clock times: the only fields two runs may differ in


def _env(crash: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env | ({CRASH_ENV: crash} if crash else {})


def _with_store(args: list[str], store: Path) -> list[str]:
    """``args`` writing to ``store`` (and a sweep's plot beside it)."""
    return [*args, "--store", str(store), "--json", *(["--out", str(store.parent)] if args[0] == "sweep" else [])]


def _start(args: list[str], store: Path, crash: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "interplay.cli", *_with_store(args, store)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(crash))


def _killed(args: list[str], store: Path, crash: str) -> None:
    run = _start(args, store, crash)
    out, err = run.communicate(timeout=600)
    assert run.returncode == -signal.SIGKILL, (run.returncode, out[-2000:], err[-2000:])


def _rows(store: Path, table: str) -> dict[tuple, tuple]:
    """Every row of ``table``: (config hash, seed) or config hash -> (JSON document, time written)."""
    if not store.exists():
        return {}
    with sqlite3.connect(f"{store.absolute().as_uri()}?mode=ro", uri=True) as db:
        if table == "runs":
            return {(h, s): (json.loads(r), c) for h, s, r, c in db.execute("SELECT * FROM runs")}
        rows = db.execute(f"SELECT config_hash, summary, updated FROM {table}")  # noqa: S608 - a fixed table name
        return {(h,): (json.loads(doc), when) for h, doc, when in rows}


def _committed(store: Path) -> int:
    try:
        return len(_rows(store, "runs"))
    except sqlite3.Error:  # the store is being created
        return 0


def _strip(doc):
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [_strip(v) for v in doc]
    return doc


def _docs(rows: dict[tuple, tuple]) -> dict[tuple, dict]:
    return {k: _strip(doc) for k, (doc, _) in rows.items()}


def _rerun(args: list[str], store: Path, monkeypatch) -> set[tuple]:
    """Run ``args`` again in this process; the (config hash, seed) of every seed it measured (and so saved)."""
    measured: set[tuple] = set()
    save_run = store_module.ResultStore.save_run

    def recording(self, config_hash, seed, record):
        measured.add((config_hash, seed))
        return save_run(self, config_hash, seed, record)

    monkeypatch.setattr(store_module.ResultStore, "save_run", recording)
    monkeypatch.delenv(CRASH_ENV, raising=False)
    r = CliRunner().invoke(app, _with_store(args, store))
    assert r.exit_code == 0, r.output
    monkeypatch.undo()
    return measured


def _uninterrupted(args: list[str], path: Path) -> Path:
    r = CliRunner().invoke(app, _with_store(args, path))
    assert r.exit_code == 0, r.output
    return path


@pytest.fixture(scope="module")
def matrix_reference(tmp_path_factory) -> Path:
    """An uninterrupted run of the matrix, in this process."""
    return _uninterrupted(MATRIX, tmp_path_factory.mktemp("matrix") / "s.sqlite")


@pytest.fixture(scope="module")
def sweep_reference(tmp_path_factory) -> Path:
    return _uninterrupted(SWEEP, tmp_path_factory.mktemp("sweep") / "s.sqlite")


def _check_restore(args, reference: Path, store: Path, monkeypatch, expect_runs: int | None) -> None:
    """What a killed run left is whole and the reference's; the rerun reuses it, measures the rest, and ends equal."""
    ref_runs, ref_validations = _rows(reference, "runs"), _rows(reference, "validations")
    before = _rows(store, "runs")
    if expect_runs is not None:
        assert len(before) == expect_runs, sorted(before)
    assert set(before) <= set(ref_runs)
    assert _docs(before) == {k: v for k, v in _docs(ref_runs).items() if k in before}  # no partial or stray record
    validations = _rows(store, "validations")
    for (key,), (summary, _) in validations.items():  # a summary is stored only once all its seeds are
        assert {(key, s) for s in summary["seed_list"]} <= set(before)
    measured = _rerun(args, store, monkeypatch)
    assert measured == set(ref_runs) - set(before)  # exactly the seeds that were not committed are recomputed
    after = _rows(store, "runs")
    assert all(after[k][1] == when for k, (_, when) in before.items())  # the committed ones were reused as they were
    assert _docs(after) == _docs(ref_runs)
    assert _docs(_rows(store, "validations")) == _docs(ref_validations)
    assert _docs(_rows(store, "sweeps")) == _docs(_rows(reference, "sweeps"))


# runs in the matrix: 2 cells x 2 seeds, cell by cell; validations: one per cell
MATRIX_POINTS = {
    "between-seeds": ("runs:1:after", 1),  # killed while training the second seed of the first cell
    "committing-a-seed": ("runs:3:during", 2),  # the second cell's first seed written, not committed
    "committing-a-summary": ("validations:1:during", 2),  # the first cell's seeds committed, its summary not
    "between-cells": ("validations:1:after", 2),
}
QUICK = {"committing-a-seed", "committing-the-sweep"}  # one of each in the default run; the others are slow


def _points(points: dict) -> list:
    return [p if p in QUICK else pytest.param(p, marks=pytest.mark.slow) for p in sorted(points)]


@pytest.mark.parametrize("point", _points(MATRIX_POINTS))
def test_validate_all_killed_then_rerun(matrix_reference, tmp_path, monkeypatch, point):
    crash, expect = MATRIX_POINTS[point]
    store = tmp_path / "s.sqlite"
    _killed(MATRIX, store, crash)
    if point == "between-cells":
        assert len(_rows(store, "validations")) == 1
    if point == "committing-a-summary":
        assert _rows(store, "validations") == {}
    if point == "committing-a-seed":  # a transaction cut short leaves a store that opens, reads and checks whole
        assert len(interplay.results(store).to_dict()) == 1  # the first cell's summary, committed before the kill
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    _check_restore(MATRIX, matrix_reference, store, monkeypatch, expect)


@pytest.mark.slow
def test_validate_all_killed_at_an_arbitrary_moment_of_training(matrix_reference, tmp_path, monkeypatch):
    """Killed from outside as soon as the first seed is committed (the process is then training the next)."""
    store = tmp_path / "s.sqlite"
    run = _start(MATRIX, store)
    deadline = time.monotonic() + 300
    while not _committed(store):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    _check_restore(MATRIX, matrix_reference, store, monkeypatch, None)


# a sweep of two values x 2 seeds: runs 1-2 the first value's, 3-4 the second's; a validation per value, then the sweep
SWEEP_POINTS = {
    "between-values": ("runs:2:after", 2),
    "committing-a-seed": ("runs:3:during", 2),
    "committing-the-sweep": ("sweeps:1:during", 4),
}


@pytest.mark.parametrize("point", _points(SWEEP_POINTS))
def test_sweep_killed_then_rerun(sweep_reference, tmp_path, monkeypatch, point):
    crash, expect = SWEEP_POINTS[point]
    store = tmp_path / "s.sqlite"
    _killed(SWEEP, store, crash)
    assert _rows(store, "sweeps") == {}
    _check_restore(SWEEP, sweep_reference, store, monkeypatch, expect)
    if point == "committing-the-sweep":
        assert len(_rows(store, "validations")) == 2  # both values' summaries had been committed before the kill
