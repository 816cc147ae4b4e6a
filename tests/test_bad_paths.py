"""Ordinary faults of the files the tool reads and writes: a clear message and exit status 2, never a traceback,
and nothing lost or written.

Reading commands (results, status, explain, export, report) open the store read-only: they never create it or
its folder, never add a table to another database, and refuse what is not an interplay store. Export and report
refuse output paths they cannot write before writing anything. Bad Adult files name the file and the line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from validation_store import make_store

from interplay import api
from interplay.errors import UsageError
from interplay.validators.store import ResultStore, StoreError


def tables(path: Path) -> list[str]:
    with sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True) as db:
        return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


def foreign_db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('keep me')")


def truncated(path: Path) -> None:
    good = path.with_name("good.sqlite")
    store = ResultStore(good)
    for seed in range(200):
        store.save_run("k", seed, {"seed": seed, "pad": "x" * 500})
    path.write_bytes(good.read_bytes()[:6000])
    good.unlink()


def bad_row(summary: str):
    def make(path: Path) -> None:
        ResultStore(path)
        with sqlite3.connect(path) as db:
            db.execute("INSERT INTO validations VALUES ('cfg-bad', 'd', 'r', 'synthetic', 'v', '{}', ?, 1.0)",
                       (summary,))  # fmt: skip

    return make


# kind -> (how to make the file, a phrase of the message)
BAD_STORES = {
    "text file": (lambda p: p.write_text("id,name\n1,not sqlite\n" * 40), "file is not a database"),
    "truncated": (truncated, "cannot open the results store"),
    "foreign sqlite": (foreign_db, "not an interplay results store (a SQLite database with tables notes"),
    "empty file": (lambda p: p.write_bytes(b""), "not an interplay results store (an empty file"),
    "bad json row": (bad_row("{oops"), "table validations, configuration cfg-bad: not valid JSON"),
    "missing keys": (bad_row('{"defense": "d", "risk": "r"}'), "the summary has no prediction, observed"),
    "bad effect": (bad_row(json.dumps({"defense": "d", "risk": "r", "prediction": "increase", "observed": "none",
                                       "verdict": "refuted", "effect": None, "defense_effective": None, "seeds": 2,
                                       "dataset": "synthetic"})), "effect has no numeric p_value"),
}  # fmt: skip

READERS = {
    "status": lambda s: ("status", "--store", s, "--json"),
    "explain": lambda s: ("explain", "AT", "evasion", "--store", s, "--json"),
    "export": lambda s: (
        "export",
        "json",
        "-o",
        s.parent / "out" / "m.json",
        "--include",
        "validations",
        "--store",
        s,
    ),  # fmt: skip
    "report": lambda s: ("report", "-o", s.parent / "out" / "r.html", "--store", s),
}


def _message(r) -> str:
    """The error message: the --json error document's, else stderr's."""
    if r.stdout.strip().startswith("{"):
        return json.loads(r.stdout)["error"]["message"]
    return r.stderr


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_reading_commands_refuse_a_bad_store_and_change_nothing(cli, tmp_path, command, kind):
    make, phrase = BAD_STORES[kind]
    path = tmp_path / "store.sqlite"
    make(path)
    before = path.read_bytes()
    r = cli(*READERS[command](path))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    message = " ".join(_message(r).split())
    assert str(path) in message and phrase in message, message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"], "no output, no folder written"


@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_results_refuses_a_bad_store(tmp_path, kind):
    make, phrase = BAD_STORES[kind]
    path = tmp_path / "store.sqlite"
    make(path)
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught:
        api.results(path)
    assert phrase in " ".join(str(caught.value).split()) and str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_results_cli_reports_a_bad_store(cli, tmp_path):
    path = tmp_path / "other.sqlite"
    foreign_db(path)
    r = cli("results", "--store", path, "--json")
    assert r.exit_code == 2 and "not an interplay results store" in json.loads(r.stdout)["error"]["message"]


@pytest.mark.parametrize("command", sorted(READERS))
def test_reading_a_missing_store_creates_no_file_or_folder(cli, tmp_path, command):
    path = tmp_path / "missing" / "deeper" / "s.sqlite"
    r = cli(*READERS[command](path))
    assert r.exit_code == 2, r.output
    assert f"no results store at {path}" in " ".join(_message(r).split())
    assert list(tmp_path.iterdir()) == []


def test_results_reads_a_missing_store_as_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(UsageError, match="no results store"):
        api.results(tmp_path / "missing" / "s.sqlite")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", sorted(READERS))
def test_reading_a_folder_or_an_empty_store_path(cli, tmp_path, command):
    folder = tmp_path / "dir"
    folder.mkdir()
    r = cli(*READERS[command](folder))
    assert r.exit_code == 2 and "is a folder" in _message(r), r.output
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["dir"]
    with pytest.raises(StoreError, match="path is empty"):
        api.read_validations("")
    with pytest.raises(StoreError, match="path is empty"):
        api.results("")


def test_default_store_is_not_created_by_reading(cli, tmp_path):
    cache = Path(os.environ["XDG_CACHE_HOME"])
    assert cli("status", "--json").exit_code == 0
    assert api.results().to_dict() == []
    assert not (cache / "interplay").exists()


def test_reading_a_good_store_leaves_it_byte_for_byte(cli, kb, tmp_path):
    path = make_store(kb, tmp_path / "s.sqlite")
    before = path.read_bytes()
    for args in (("status", "--store", path, "--json"), ("explain", "AT", "evasion", "--store", path),
                 ("report", "-o", tmp_path / "r.html", "--store", path)):  # fmt: skip
        assert cli(*args).exit_code == 0
    assert len(api.results(path).to_dict()) == 5
    assert path.read_bytes() == before and tables(path) == ["runs", "sweeps", "validations"]


def test_store_without_a_sweeps_table_reads(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultStore(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE sweeps")
    assert ResultStore(path, readonly=True).sweeps() == []
    assert api.read_validations(path).sweeps == {}
    assert tables(path) == ["runs", "validations"]


# --- export and report outputs ----------------------------------------------------------------------------------


def test_export_to_a_folder_where_a_file_is_needed(cli, tmp_path):
    r = cli("export", "latex", "-o", tmp_path)
    assert r.exit_code == 2 and f"the output {tmp_path} is a folder" in r.stderr
    assert list(tmp_path.iterdir()) == []
    r = cli("report", "-o", tmp_path)
    assert r.exit_code == 2 and "is a folder" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [("export", "latex"), ("export", "svg"), ("export", "graphml"), ("report",)])
def test_output_under_a_file(cli, tmp_path, args):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep")
    r = cli(*args, "-o", blocker / "sub" / "out.x")
    assert r.exit_code == 2, r.output
    assert f"{blocker} is a file, not a folder" in " ".join(r.stderr.split())
    assert blocker.read_text() == "keep" and list(tmp_path.iterdir()) == [blocker]


def test_csv_export_needs_a_folder_not_a_file(cli, tmp_path):
    existing = tmp_path / "tables"
    existing.write_text("keep")
    r = cli("export", "csv", "-o", existing)
    assert r.exit_code == 2 and "is a file; csv export writes a folder of tables" in " ".join(r.stderr.split())
    assert existing.read_text() == "keep" and list(tmp_path.iterdir()) == [existing]
    (tmp_path / "m-evidence.csv").mkdir()  # one of the sibling tables of m.csv is a folder
    r = cli("export", "csv", "-o", tmp_path / "m.csv")
    assert r.exit_code == 2 and "m-evidence.csv is a folder" in r.stderr
    assert not (tmp_path / "m.csv").exists()
    r = cli("export", "csv", "-o", tmp_path / "ok")
    assert r.exit_code == 0 and (tmp_path / "ok" / "edges.csv").is_file()


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write: chmod for a user, ``chattr +i`` for root (skip where neither works)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(folder)]
    else:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    try:
        (folder / "probe").write_text("x")
        pytest.skip("this file system lets the test write a read-only folder")
    except OSError:
        pass
    yield folder
    subprocess.run(undo, check=False)


@pytest.mark.parametrize(
    "args", [("export", "latex", "-o", "m.tex"), ("export", "csv", "-o", "tables"), ("report", "-o", "r.html")]
)
def test_read_only_output_folder(cli, read_only_folder, args):
    r = cli(*args[:-1], read_only_folder / args[-1])
    assert r.exit_code == 2, r.output
    assert f"cannot write {read_only_folder}" in r.stderr and "Traceback" not in r.output
    assert list(read_only_folder.iterdir()) == []


def test_write_failure_is_an_export_error(cli, tmp_path, monkeypatch):
    """Whatever the file system refuses (read-only, full disk) is an ExportError naming the file."""

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    for args in (("export", "mermaid", "-o", tmp_path / "m.mmd"), ("report", "-o", tmp_path / "r.html")):
        r = cli(*args)
        assert r.exit_code == 2, r.output
        assert f"cannot write {args[-1]}: Permission denied" in " ".join(r.stderr.split())


# --- Adult files -------------------------------------------------------------------------------------------------

GOOD = "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, " \
       "United-States, <=50K"  # fmt: skip


def adult_folder(tmp_path: Path, data: str, test: str | None = None) -> Path:
    folder = tmp_path / "adult"
    folder.mkdir()
    (folder / "adult.data").write_text(data)
    (folder / "adult.test").write_text(test if test is not None else "|1x3 Cross validator\n" + GOOD + ".\n")
    return folder


ADULT_FAULTS = {
    "empty": ("", "adult.data: no UCI Adult rows (the file is empty"),
    "short row": (f"{GOOD}\n{GOOD}\n39, State-gov, 77516\n", "adult.data, line 3: expected 15 comma-separated fields"),
    "text number": (f"{GOOD}\n" + GOOD.replace("39,", "forty,", 1), "adult.data, line 2: field 1 should be a number"),
    "bad label": (GOOD.replace("<=50K", "rich"), "line 1: the income field should be <=50K or >50K, not 'rich'"),
}


@pytest.mark.parametrize("kind", sorted(ADULT_FAULTS))
def test_bad_adult_files_name_the_file_and_line(cli, tmp_path, kind):
    pytest.importorskip("torch")
    data, phrase = ADULT_FAULTS[kind]
    folder = adult_folder(tmp_path, data)
    store = tmp_path / "s.sqlite"
    r = cli("validate", "AT", "evasion", "--dataset", "adult", "--data-path", folder, "--preset", "tiny",
            "--seeds", "2", "--jobs", "1", "--store", store, "--json")  # fmt: skip
    assert r.exit_code == 2, r.output
    error = json.loads(r.stdout)["error"]
    assert error["kind"] == "DataError" and phrase in error["message"] and str(folder) in error["message"]
    assert not store.exists(), "nothing trained, nothing stored"


def test_bad_adult_test_file_and_binary_file(tmp_path):
    pytest.importorskip("torch")
    from interplay.validators.data import DataError, adult

    folder = adult_folder(tmp_path, GOOD + "\n", test="|1x3 Cross validator\n\n" + GOOD + ".\n1, 2\n")
    with pytest.raises(DataError, match=r"adult\.test, line 4: expected 15"):
        adult(10, 0, folder)
    (folder / "adult.test").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DataError, match=r"adult\.test: not a UCI Adult file \(not UTF-8"):
        adult(10, 0, folder)
