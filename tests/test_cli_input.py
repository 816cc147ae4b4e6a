"""Wrong and hostile input on the command line: resource bounds, markup injection and unclear outcomes.

Every rejection is checked for its message, exit status 2, one JSON error document with ``--json``, and that
nothing was written (no results store, neither the given one nor the default one)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import interplay
from interplay.cli.app import app
from interplay.errors import UsageError

HUGE = "99999999999999999999"
HOSTILE = ("[/]", "[link=http://x]y[/link]", "[bold red]")


def _invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _default_store() -> Path:
    from interplay.validators.store import default_store_path

    return default_store_path()


def _assert_usage_error(args: list, store: Path, *fragments: str, kind: str | None = None) -> None:
    """``interplay ARGS --store STORE`` exits 2 naming every fragment, as text and as one JSON document, with no
    traceback and no store written."""
    text = _invoke(*args, "--store", store)
    assert text.exit_code == 2, text.output
    assert "Traceback" not in text.output and text.stdout == ""
    flat = " ".join(text.stderr.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, text.stderr)
    as_json = _invoke(*args, "--store", store, "--json")
    assert as_json.exit_code == 2, as_json.output
    error = json.loads(as_json.stdout)["error"]  # exactly one JSON document on stdout
    assert set(error) == {"kind", "message"}
    if kind:
        assert error["kind"] == kind
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])
    assert not store.exists() and not _default_store().exists()


# --- 1. resource bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["validate", "DP", "MIA", "--seeds", HUGE], ["at most 1000", HUGE]),
        (["validate", "DP", "MIA", "--seeds", "1"], ["at least 2"]),
        (["validate", "DP", "MIA", "--jobs", "1000000000"], ["at most 256"]),
        (["validate", "DP", "MIA", "--jobs", "0"], ["at least 1"]),
        (["validate", "--all", "--seeds", HUGE], ["at most 1000"]),
        (["validate", "DP", "MIA", "--seeds", "auto", "--max-seeds", "1"], ["max_seeds (--max-seeds)", "at least 2"]),
        (["validate", "DP", "MIA", "--seeds", "auto", "--max-seeds", "1001"], ["at most 1000", "1001"]),
        (["validate", "--all", "--seeds", "auto", "--max-seeds", HUGE], ["at most 1000"]),
        (["validate", "DP", "MIA", "--max-seeds", "16"], ["--seeds auto"]),
        (["validate", "DP", "MIA", "--seeds", "many"], ["or auto", "'many'"]),
        (["validate-combo", "DP", "AT", "--seeds", HUGE], ["at most 1000"]),
        (["validate-combo", "DP", "AT", "--jobs", "1000000000"], ["at most 256"]),
        (["reproduce", "sok-5.1", "--seeds", HUGE], ["at most 1000"]),
        (["sweep", "DP", "MIA", "--factor", "M1", "--values", "small,medium", "--seeds", HUGE], ["at most 1000"]),
    ],
)
def test_counts_are_bounded(tmp_path, args, fragments):
    pytest.importorskip("torch")
    _assert_usage_error(args, tmp_path / "s.sqlite", *fragments)


@pytest.mark.parametrize(
    "factor,values,fragments",
    [
        ("D1", "1000000000000,2000", ["D1 (n_train) must be from 50 to 100000", "1000000000000"]),
        ("D1", "-5,2000", ["must be from 50 to 100000", "-5"]),
        ("D1", "0,2000", ["must be from 50"]),
        ("D1", "1e3,2000", ["needs a whole number", "'1e3'"]),
        ("D2", "0,0.2", ["D2 (minority_frac) must be from 0.01 to 0.5"]),
        ("D2", "0.1,nan", ["must be from 0.01 to 0.5", "nan"]),
        ("D2", "0.1,inf", ["must be from 0.01 to 0.5"]),
        ("D3", "10,1000000000", ["D3 (n_attributes) must be from 10 to 1000"]),
        ("D3", "0,20", ["must be from 10 to 1000"]),
        ("D4", "-1,2", ["D4 (n_spurious) must be from 0 to 12"]),
        ("D4", "1,999", ["must be from 0 to 12"]),
        ("D4", "1,2,1", ["repeated values"]),
        ("M1", "small,huge", ["capacity"]),
        ("D1", ",".join(str(100 + i) for i in range(51)), ["at most 50 values"]),
        ("D1", "100", ["at least two values"]),
    ],
)
def test_sweep_values_are_bounded_before_anything_is_built(tmp_path, factor, values, fragments):
    pytest.importorskip("torch")
    args = ["sweep", "DP", "MIA", "--factor", factor, "--values", values, "--quick", "-o", tmp_path / "plots"]
    _assert_usage_error(args, tmp_path / "s.sqlite", *fragments, kind="SweepError")
    assert not (tmp_path / "plots").exists()


def test_an_endless_list_of_sweep_values_is_refused_not_built(tmp_path):
    """The API reads at most 51 values of ``values``: an endless generator is refused, not exhausted."""
    pytest.importorskip("torch")
    endless = (str(100 + i) for i in itertools.count())
    with pytest.raises(UsageError, match="at most 50 values"):
        interplay.sweep("DP", "MIA", "D1", endless, store=tmp_path / "s.sqlite")
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("seeds", [2.5, "3", True])
def test_seeds_and_jobs_must_be_whole_numbers_in_the_api(tmp_path, seeds):
    pytest.importorskip("torch")
    with pytest.raises(UsageError, match="seeds must"):
        interplay.validate("DP", "MIA", seeds=seeds, store=tmp_path / "s.sqlite")
    with pytest.raises(UsageError, match="jobs must"):
        interplay.validate("DP", "MIA", jobs=2.5, store=tmp_path / "s.sqlite")  # type: ignore[arg-type]
    assert not (tmp_path / "s.sqlite").exists()


# --- 4. markup injection -----------------------------------------------------------------------------------


@pytest.fixture
def hostile_overlay(tmp_path) -> Path:
    """A defense whose name, code, aliases and description, and an edge whose evidence locator, are rich markup."""
    d = tmp_path / "overlay"
    d.mkdir()
    (d / "hostile.yaml").write_text(
        """defenses:
- id: hostile
  name: "[/]"
  code: "[bold red]"
  aliases: ["[link=http://x]y[/link]", "h0st"]
  category: security
  targets: [evasion]
  description: "[/] described [link=http://x]y[/link]"
edges:
- id: hostile--memorization
  source: hostile
  target: memorization
  sign: increases
  role: defense-factor
  evidence: [{ref: duddu2024sok, kind: conjectured, locator: "[/] p. [link=http://x]y[/link]"}]
- id: hostile--overfitting
  source: hostile
  target: overfitting
  sign: increases
  role: defense-factor
  evidence: [{ref: duddu2024sok, kind: conjectured}]
observations:
- id: hostile/membership-inference
  defense: hostile
  risk: membership-inference
  direction: increase
  refs: [duddu2024sok]
"""
    )
    return d


@pytest.mark.parametrize(
    "args,expected",
    [
        (["kb", "show", "hostile"], HOSTILE),
        (["list", "defenses"], HOSTILE),
        (["matrix"], ["[bold red]"]),
        (["explain", "hostile", "MIA"], ["[bold red]", "[/] p. [link=http://x]y[/link]"]),
        (["predict-combo", "hostile", "DP"], ["[bold red]"]),
        (["predict", "hostile", "MIA"], ["hostile -> membership-inference"]),
        (["conflicts"], []),
        (["matrix", "--combos"], []),
    ],
)
def test_kb_strings_are_printed_verbatim_never_as_markup(monkeypatch, hostile_overlay, args, expected):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping: every string stays on one line
    r = _invoke(*args, "--overlay", hostile_overlay)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "MarkupError" not in r.output
    for text in expected:
        assert text in r.stdout, (text, r.stdout)


@pytest.mark.parametrize(
    "args,shown",
    [
        (["predict", "[/]", "evasion"], "[/]"),
        (["explain", "DP", "[link=http://x]y[/link]"], "[link=http://x]y[/link]"),
        (["predict", "DP", "evasion", "-c", "adversary=[/]"], "[/]"),
        (["predict", "DP", "evasion", "-c", "[bold red]=x"], "[bold red]"),
        (["kb", "show", "[bold red]"], "[bold red]"),
    ],
)
def test_hostile_names_and_contexts_are_quoted_in_errors(args, shown):
    r = _invoke(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert shown in r.stderr


def test_eval_file_prints_hostile_file_names_and_records_verbatim(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "400")
    (tmp_path / "[bold red]records[").mkdir()
    path = tmp_path / "[bold red]records[" / "]x.csv"  # its name reads ...[bold red]records[/]x.csv
    path.write_text("defense,risk,direction\nDP,evasion,increase\n[link=http://x]y[/link],[/],up\n")
    r = _invoke("eval", "file", path)
    assert r.exit_code == 0, r.output
    assert "[boldred]records[/]x.csv" in "".join(r.stdout.split())  # the table's title wraps
    assert "unknown defense '[link=http://x]y[/link]'" in r.stdout
    doc = json.loads(_invoke("eval", "file", path, "--json").stdout)
    assert doc["n"] == 1 and len(doc["unresolved"]) == 1


# --- 10. unclear outcomes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,fragment",
    [
        ("empty.csv", "", "no records"),
        ("header-only.csv", "defense,risk,direction\n", "no records"),
        ("wrong.csv", "a,b,c\n1,2,3\n", "no column defense, risk, direction"),
        ("partial.csv", "defense,risk\nDP,evasion\n", "no column direction"),
        ("empty.yaml", "[]\n", "no records"),
        ("strings.yaml", "- DP\n- evasion\n", "no column defense, risk, direction"),
        ("unknown.csv", "defense,risk,direction\nfoo,bar,up\n", "none of the 1 record(s) could be scored"),
    ],
)
def test_eval_file_without_usable_records_is_an_error(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_text(content)
    text = _invoke("eval", "file", path)
    assert text.exit_code == 2 and "Traceback" not in text.output and text.stdout == ""
    flat = " ".join(text.stderr.split())
    assert fragment in flat and ("defense, risk, direction" in flat or "could be scored" in flat)
    as_json = _invoke("eval", "file", path, "--json")
    assert as_json.exit_code == 2
    assert fragment in json.loads(as_json.stdout)["error"]["message"]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["validate", "DP", "MIA", "--defenses", "DP"], ["--defenses and --risks restrict --all"]),
        (["validate", "DP", "MIA", "--risks", "MIA"], ["--defenses and --risks restrict --all"]),
        (["validate", "--all", "--defenses", ""], ["selects no defense"]),
        (["validate", "--all", "--risks", " , "], ["selects no risk"]),
        (["validate", "DP", "MIA", "--data-path", "."], ["--data-path", "'synthetic'"]),
        (["validate", "DP", "MIA", "--dataset", "digits", "--data-path", "."], ["--data-path", "'digits'"]),
        (["validate", "--all", "--data-path", "."], ["--data-path"]),
        (["validate-combo", "DP", "AT", "--data-path", "."], ["--data-path"]),
        (["validate", "DP", "MIA", "-c", "adversary=malicious-accuser", "-c", "adversary=malicious-suspect"],
         ["--context adversary is given twice"]),
        (["validate", "DP", "MIA", "--seeds", "abc"], ["--seeds"]),
    ],
)  # fmt: skip
def test_ignored_or_conflicting_options_are_errors(tmp_path, args, fragments):
    pytest.importorskip("torch")
    _assert_usage_error(args, tmp_path / "s.sqlite", *fragments)


def test_a_repeated_context_key_with_the_same_value_is_fine():
    args = ["predict", "FD1", "MIA", "-c", "adversary=malicious-accuser", "-c", "adversary = malicious-accuser"]
    assert _invoke(*args).exit_code == 0
    r = _invoke("predict", "FD1", "MIA", "-c", "theft=any", "-c", "theft=extraction", "--json")
    assert r.exit_code == 2 and "given twice" in json.loads(r.stdout)["error"]["message"]


@pytest.mark.parametrize(
    "args,fragment",
    [
        (
            ["validate", "group-fairness", "discrimination", "--dataset", "digits"],
            "discrimination between sensitive groups needs a binary task",
        ),
        (["validate-combo", "group-fairness", "explanations", "--dataset", "digits"], "no target risk"),
    ],
)
def test_a_probe_that_does_not_apply_is_rejected_before_training(monkeypatch, tmp_path, args, fragment):
    pytest.importorskip("torch")
    import interplay.validators.combination as combination
    import interplay.validators.experiment as experiment

    def never(*args, **kwargs):
        raise AssertionError("no seed may be measured")

    monkeypatch.setattr(experiment, "run_seeds", never)
    monkeypatch.setattr(combination, "run_seeds", never)
    _assert_usage_error(args, tmp_path / "s.sqlite", fragment, kind="ProbeUnsupported")


def test_reproduce_checks_data_path_before_writing(tmp_path):
    pytest.importorskip("torch")
    missing = tmp_path / "nowhere"
    _assert_usage_error(["reproduce", "sok-5.1", "--quick", "--data-path", missing], tmp_path / "s.sqlite",
                        "adult.data", str(missing))  # fmt: skip
    assert "--data-path" in " ".join(_invoke("reproduce", "--help").output.split())


def test_reproduce_reads_adult_from_data_path(monkeypatch, tmp_path):
    """``api.reproduce(data_path=...)`` hands that folder to every validation of the reproduction."""
    pytest.importorskip("torch")
    import interplay.validators.reproduce as reproduction
    from interplay.validators.data import ADULT_ENV, default_adult_dir

    if not (default_adult_dir() / "adult.data").exists():
        pytest.skip("UCI Adult not present")
    folder = tmp_path / "adult"
    folder.mkdir()
    for name in ("adult.data", "adult.test"):
        (folder / name).symlink_to(default_adult_dir() / name)
    seen = {}

    def fake(*args, **kwargs):
        seen["data_path"] = args[9]  # reproduce(name, ..., store, on_seed, data_path, workers)
        raise RuntimeError("stop before training")

    monkeypatch.setattr(reproduction, "reproduce", fake)
    monkeypatch.setenv(ADULT_ENV, "/before")
    with pytest.raises(RuntimeError, match="stop before training"):
        interplay.reproduce("sok-5.1", preset="quick", data_path=folder, store=tmp_path / "s.sqlite")
    assert seen["data_path"] == str(folder) and os.environ[ADULT_ENV] == "/before"


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "DP", "--json"],
        ["predict", "DP", "evasion", "--bogus", "--json"],
        ["list", "bogus", "--json"],
        ["--bogus", "--json"],
        ["nonsense", "--json"],
        ["kb", "show", "--json"],
        ["matrix", "--method", "oracle", "--json"],
    ],
)
def test_a_command_line_that_does_not_parse_is_one_json_document(args):
    r = _invoke(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    error = json.loads(r.stdout)["error"]
    assert error["kind"] == "UsageError" and error["message"]
