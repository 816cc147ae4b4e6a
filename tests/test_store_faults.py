"""Faults of the results store on the writing side, and configuration keys that follow the data actually read.

A store that cannot be written loses no computed seed (the run finishes, returns every seed and warns once); a
file that is not an interplay store is refused before anything is trained, and left as it was; damaged rows are
reported with their table and key. The Adult configuration hash covers the files' contents, not the path string.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")

from interplay import api  # noqa: E402
from interplay.validators import store as store_module  # noqa: E402
from interplay.validators.combination import ComboConfig  # noqa: E402
from interplay.validators.data import ADULT_ENV  # noqa: E402
from interplay.validators.experiment import ValidationConfig  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402
from interplay.validators.store import ResultStore, StoreError, StoreWriteWarning  # noqa: E402

FAST = ("--preset", "tiny", "--seeds", "2", "--jobs", "1")
CELL = ("adversarial-training", "evasion")


def validate_api(store) -> api.Validation:
    return api.validate(*CELL, preset="tiny", seeds=2, jobs=1, store=store)


def snapshot(path: Path) -> tuple[bytes, list[str]]:
    """A file's bytes and (for a SQLite file) its tables, read without changing it."""
    data = path.read_bytes()
    with sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True) as db:
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    return data, tables


def foreign_db(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('keep me')")
    return path


def store_writes_fail(monkeypatch) -> None:
    """Every connection the store opens is read-only, so SQLite itself refuses each write ("attempt to write a
    readonly database"): a read-only store that does not depend on running as an unprivileged user."""
    real = sqlite3.connect

    def read_only(database, *args, uri=False, **kwargs):
        if not uri:
            database, uri = f"{Path(database).absolute().as_uri()}?mode=ro", True
        return real(database, *args, uri=uri, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)


@pytest.fixture
def make_readonly():
    """Make a file or folder really read-only: chmod for a user, ``chattr +i`` for root (skip where neither works)."""
    undo = []

    def apply(path: Path) -> None:
        if os.geteuid() != 0:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: path.chmod(mode))
        else:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("running as root without chattr: cannot make a path read-only")
            undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=False))
        probe = path / ".probe" if path.is_dir() else path
        try:
            with open(probe, "a"):
                pass
        except OSError:
            return
        pytest.skip("this file system lets the test write a read-only path")

    yield apply
    for u in reversed(undo):
        u()


def _store_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, StoreWriteWarning)]


# --- a store that cannot be written: every seed kept, one warning -------------------------------------------


def test_read_only_store_keeps_every_computed_seed(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    ResultStore(path)  # an interplay store, with its tables
    before = snapshot(path)
    store_writes_fail(monkeypatch)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        v = validate_api(path)
    assert v.seeds == 2 and v.to_dict()["seed_list"] == [0, 1] and v.verdict is not None
    (message,) = _store_warnings(record)  # once, though two seeds and the summary were not written
    assert f"cannot write the results store {path}" in message and "readonly" in message
    assert "kept in memory" in message
    monkeypatch.undo()
    assert snapshot(path) == before
    assert ResultStore(path, readonly=True).validations() == []


def test_truly_read_only_store_file_and_folder(tmp_path, make_readonly):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "s.sqlite"
    ResultStore(path)
    before = snapshot(path)
    make_readonly(path)
    make_readonly(folder)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        v = validate_api(path)
    assert v.seeds == 2 and v.to_dict()["seed_list"] == [0, 1]
    assert len(_store_warnings(record)) == 1
    assert snapshot(path) == before and sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]


def test_store_that_cannot_be_created_keeps_every_seed(tmp_path, make_readonly):
    folder = tmp_path / "ro"
    folder.mkdir()
    make_readonly(folder)
    path = folder / "sub" / "s.sqlite"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        v = validate_api(path)
    assert v.seeds == 2
    (message,) = _store_warnings(record)
    assert "cannot write the results store" in message
    assert list(folder.iterdir()) == []


def test_store_write_warning_through_the_cli(cli, tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    ResultStore(path)
    before = snapshot(path)
    store_writes_fail(monkeypatch)
    with pytest.warns(StoreWriteWarning, match="cannot write the results store"):
        r = cli("validate", *CELL, *FAST, "--store", path, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["seeds"] == 2 and doc["seed_list"] == [0, 1]
    monkeypatch.undo()
    assert snapshot(path) == before


# --- writing commands: create the store, refuse what is not one ---------------------------------------------


def test_writing_command_creates_the_store_and_its_folder(cli, tmp_path):
    path = tmp_path / "new" / "dir" / "s.sqlite"
    r = cli("validate", *CELL, *FAST, "--store", path, "--json")
    assert r.exit_code == 0, r.output
    assert path.is_file() and snapshot(path)[1] == ["runs", "sweeps", "validations"]
    (stored,) = api.results(path).to_dict()
    assert stored["config_hash"] == json.loads(r.stdout)["config_hash"]


def _truncated(tmp_path: Path) -> Path:
    good = tmp_path / "good.sqlite"
    store = ResultStore(good)
    for seed in range(200):
        store.save_run("k", seed, {"seed": seed, "pad": "x" * 500})
    bad = tmp_path / "truncated.sqlite"
    bad.write_bytes(good.read_bytes()[:6000])
    return bad


BAD_STORES = {
    "text": lambda d: (d / "notes.txt", lambda p: p.write_text("not a database\n" * 50)),
    "truncated": lambda d: (_truncated(d), lambda p: None),
    "foreign": lambda d: (d / "other.sqlite", foreign_db),
}


@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_writing_command_refuses_a_file_that_is_not_a_store(cli, tmp_path, kind):
    path, make = BAD_STORES[kind](tmp_path)
    make(path)
    before = path.read_bytes()
    r = cli("validate", *CELL, *FAST, "--store", path, "--json")
    assert r.exit_code == 2, r.output
    error = json.loads(r.stdout)["error"]
    assert error["kind"] == "StoreError" and str(path) in error["message"]
    expected = "not an interplay results store" if kind == "foreign" else "cannot open the results store"
    assert expected in error["message"]
    assert path.read_bytes() == before


def test_writing_command_refuses_a_folder_and_an_empty_path(cli, tmp_path):
    r = cli("validate", *CELL, *FAST, "--store", tmp_path, "--json")
    assert r.exit_code == 2 and "is a folder" in json.loads(r.stdout)["error"]["message"]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="path is empty"):
        validate_api("")


def test_damaged_run_rows_are_reported_with_table_and_key(tmp_path):
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    store.save_run("cfg", 0, {"seed": 0})
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO runs VALUES ('cfg', 1, '{not json', 0)")
        db.execute("INSERT INTO runs VALUES ('other', 0, '{\"seed\": 5}', 0)")
        db.execute("INSERT INTO runs VALUES ('list', 0, '[1, 2]', 0)")
    with pytest.raises(StoreError, match=r"table runs, configuration cfg, seed 1: not valid JSON"):
        store.runs("cfg")
    with pytest.raises(StoreError, match=r"configuration other, seed 0: the record's seed is 5"):
        store.runs("other")
    with pytest.raises(StoreError, match=r"a JSON list, not an object"):
        store.runs("list")


def test_read_only_store_refuses_writes_and_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no results store"):
        ResultStore(tmp_path / "missing" / "s.sqlite", readonly=True)
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "s.sqlite"
    ResultStore(path)
    with pytest.raises(StoreError, match="opened read-only"):
        ResultStore(path, readonly=True).save_run("k", 0, {"seed": 0})


# --- the configuration key covers the Adult files' contents --------------------------------------------------

ROW = (
    "{age}, Private, {w}, Bachelors, 13, Never-married, Sales, Not-in-family, {race}, {sex}, 0, 0, 40, "
    "United-States, {y}"
)


def write_adult(folder: Path, n: int = 40, shift: int = 0) -> Path:
    """Small UCI-format Adult files (adult.test with its header line and the labels' full stops)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, end in (("adult.data", ""), ("adult.test", ".")):
        rows = [
            ROW.format(age=20 + (i + shift) % 50, w=10000 + i, race=("White", "Black")[i % 2],
                       sex=("Male", "Female")[i % 3 == 0], y=("<=50K", ">50K")[i % 4 == 0] + end)
            for i in range(n)
        ]  # fmt: skip
        head = "|1x3 Cross validator\n" if name == "adult.test" else ""
        (folder / name).write_text(head + "\n".join(rows) + "\n\n")
    return folder


def adult_hashes(data_path: Path | None) -> tuple[str, str]:
    s = default_settings("adult", "tiny")
    path = str(data_path) if data_path else None
    return (
        ValidationConfig(*CELL, s, (), path).hash(),
        ComboConfig("adversarial-training", "differential-privacy", s, (), (), path).hash(),
    )


def test_adult_config_hash_follows_the_files_contents(tmp_path, monkeypatch):
    a = write_adult(tmp_path / "a")
    b = write_adult(tmp_path / "b", shift=1)
    a_copy = write_adult(tmp_path / "elsewhere" / "a-copy")
    assert adult_hashes(a) != adult_hashes(b)
    assert adult_hashes(a) == adult_hashes(a_copy), "the same data in another folder is the same configuration"
    # The same --data-path string over other files: another configuration (the stale-results bug).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ADULT_ENV, str(b))
    assert adult_hashes(None) == adult_hashes(b) != adult_hashes(a)
    monkeypatch.setenv(ADULT_ENV, str(a))
    assert adult_hashes(None) == adult_hashes(a)
    before = adult_hashes(Path("a"))
    write_adult(tmp_path / "a", n=41)  # the files change in place
    assert adult_hashes(Path("a")) != before
    cfg = ValidationConfig(*CELL, default_settings("adult", "tiny"), (), str(a)).as_dict()
    assert "data_path" not in cfg and len(cfg["data"]) == 64


def test_other_datasets_carry_no_data_digest(tmp_path):
    for dataset in ("synthetic", "digits"):
        cfg = ValidationConfig(*CELL, default_settings(dataset, "tiny"), (), str(tmp_path)).as_dict()
        assert cfg["data"] is None
    s = default_settings("synthetic", "tiny")
    assert ValidationConfig(*CELL, s, (), "x").hash() == ValidationConfig(*CELL, s, (), None).hash()
