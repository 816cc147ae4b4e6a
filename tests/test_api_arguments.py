"""The public API fails like a library: every function in ``interplay.__all__`` checks its arguments against its
annotations (:func:`interplay.arguments.checked`) and raises the project's own errors, an ``ArgumentError``
(a ``TypeError``) for a wrong type and an ``ArgumentValueError`` (a ``ValueError``) for a wrong value, with the
message the command line prints; never an ``AttributeError`` from inside. ``seeds='auto'`` budgets included."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import interplay
from interplay.arguments import _hints, _matches, checked, is_checked
from interplay.errors import ArgumentError, ArgumentValueError, UsageError

PUBLIC = {
    n: getattr(interplay, n)
    for n in interplay.__all__
    if callable(getattr(interplay, n)) and not isinstance(getattr(interplay, n), type)
}
# valid values for the required arguments (a wrong one elsewhere fails before any of them is used)
REQUIRED = {"defense": "DP", "risk": "MIA", "a": "DP", "b": "AT", "factor": "D1", "values": "500,1000",
            "name": "sok-5.1", "kind": "heatmap", "fmt": "latex", "output": "out.tex",
            "path": "records.csv"}  # fmt: skip


def test_every_public_function_checks_its_arguments():
    assert len(PUBLIC) >= 20
    unchecked = [n for n, fn in PUBLIC.items() if not is_checked(fn)]
    assert not unchecked, f"decorate these with interplay.arguments.checked: {unchecked}"


def _arguments() -> Iterator[tuple[str, str]]:
    for n, fn in sorted(PUBLIC.items()):
        for p in inspect.signature(fn).parameters.values():
            if _hints(inspect.unwrap(fn))[p.name] is not Any:
                yield n, p.name


@pytest.mark.parametrize("fn,arg", list(_arguments()))
def test_a_wrong_type_is_an_argument_error_naming_the_argument(tmp_path, monkeypatch, fn, arg):
    monkeypatch.chdir(tmp_path)
    sig = inspect.signature(PUBLIC[fn])
    required = {p: REQUIRED[p] for p, q in sig.parameters.items() if q.default is inspect.Parameter.empty}
    with pytest.raises(ArgumentError, match=rf"^{fn}\(\): {arg} must be .*, not <object object"):
        PUBLIC[fn](**(required | {arg: object()}))
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: interplay.predict(None, "MIA"), "predict(): defense must be str, not None (NoneType)"),
        (lambda: interplay.predict("DP", 7), "risk must be str, not 7 (int)"),
        (lambda: interplay.predict("DP", "MIA", context={"adversary": 1}), "context must be Mapping[str, str] or None"),
        (lambda: interplay.predict("DP", "MIA", context=["adversary=x"]), "context must be Mapping"),
        (lambda: interplay.predict("DP"), "predict(): missing a required argument: 'risk'"),
        (lambda: interplay.predict("DP", "MIA", metod="graph"), "unexpected keyword argument 'metod'"),
        (lambda: interplay.matrix(defenses=[None]), "defenses must be Iterable[str], str or None"),
        (lambda: interplay.load_kb(overlays=[3]), "overlays must be Iterable[str or Path]"),
        (lambda: interplay.validate("DP", "MIA", seeds=2.5), "seeds must be int, str or None, not 2.5"),
        (lambda: interplay.validate("DP", "MIA", seeds=True), "seeds must be int, str or None, not True (bool)"),
        (lambda: interplay.validate("DP", "MIA", seeds="auto", max_seeds=2.5), "max_seeds must be int or None"),
        (lambda: interplay.validate("DP", "MIA", seeds="auto", max_seeds="8"), "max_seeds must be int or None"),
        (lambda: interplay.validate_combo("DP", "AT", seeds="auto"), "seeds must be int or None, not 'auto'"),
        (lambda: interplay.validate("DP", "MIA", progress=object()), "progress must be Progress or None"),
        (lambda: interplay.sweep("DP", "MIA", "D1", [500, 1000]), "values must be Iterable[str] or str"),
        (lambda: interplay.export("latex", None), "export(): output must be str or Path, not None"),
    ],
)  # fmt: skip
def test_wrong_types(tmp_path, monkeypatch, call, fragment):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentError) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, UsageError)
    assert fragment in str(info.value)


def _cli_error(cli, *args) -> dict:
    r = cli(*args, "--json")
    assert r.exit_code == 2, r.output
    return json.loads(r.stdout)["error"]


def test_a_wrong_value_is_a_value_error_with_the_cli_message(cli):
    with pytest.raises(ArgumentValueError, match="unknown method 'astrology'") as info:
        interplay.predict("DP", "MIA", method="astrology")
    assert isinstance(info.value, ValueError)
    with pytest.raises(interplay.UnknownName) as unknown:
        interplay.predict("DPP", "MIA")
    assert isinstance(unknown.value, LookupError)
    assert str(unknown.value) == _cli_error(cli, "predict", "DPP", "MIA")["message"]


@pytest.mark.parametrize(
    "kwargs,cli_args,fragment",
    [
        ({"seeds": "auto", "max_seeds": 1}, ["--seeds", "auto", "--max-seeds", "1"], "at least 2 and at most 1000"),
        ({"seeds": "auto", "max_seeds": 1001}, ["--seeds", "auto", "--max-seeds", "1001"], "got 1001"),
        ({"seeds": "auto", "max_seeds": -8}, ["--seeds", "auto", "--max-seeds", "-8"], "got -8"),
        ({"seeds": "auto", "max_seeds": 10**30}, ["--seeds", "auto", "--max-seeds", str(10**30)], "at most 1000"),
        ({"seeds": 8, "max_seeds": 16}, ["--seeds", "8", "--max-seeds", "16"], "give both or neither"),
        ({"max_seeds": 16}, ["--max-seeds", "16"], "give both or neither"),
        ({"seeds": 1}, ["--seeds", "1"], "at least 2 and at most 1000"),
    ],
)  # fmt: skip
def test_seed_budgets_are_checked_before_anything_runs(cli, tmp_path, kwargs, cli_args, fragment):
    pytest.importorskip("torch")
    store = tmp_path / "s.sqlite"
    with pytest.raises(ArgumentValueError, match=fragment) as info:
        interplay.validate("DP", "MIA", preset="tiny", store=store, **kwargs)
    error = _cli_error(cli, "validate", "DP", "MIA", "--preset", "tiny", "--store", store, *cli_args)
    assert fragment in error["message"]
    if kwargs.get("seeds") != 1:  # the command line words a bad --seeds itself (it parses auto | a number)
        assert error["message"] == str(info.value)
    assert not store.exists()


@pytest.mark.parametrize("seeds", ["auto!", "AUTO?", "eight", "", "nan", "1e3"])
def test_seeds_that_are_neither_a_number_nor_auto(cli, tmp_path, seeds):
    pytest.importorskip("torch")
    store = tmp_path / "s.sqlite"
    with pytest.raises(ArgumentValueError, match="seeds must be a whole number from 2 to 1000 or 'auto'"):
        interplay.validate("DP", "MIA", preset="tiny", seeds=seeds, store=store)
    assert "--seeds must be a whole number" in _cli_error(cli, "validate", "DP", "MIA", "--seeds", seeds)["message"]
    assert not store.exists()


def test_the_checker_on_its_own():
    @checked
    def f(x: int, y: float = 0.0, z: list[str] | None = None, *, w: dict[str, int] | None = None) -> int:
        return x

    assert f(1, 2, ["a"], w={"k": 1}) == 1 and f(1, y=2.5) == 1
    for bad in [lambda: f(True), lambda: f(1, "2"), lambda: f(1, z=("a",)), lambda: f(1, z=["a", 2]),
                lambda: f(1, w={"k": "v"}), lambda: f(1, w={2: 1}), lambda: f(1, 2, 3, 4)]:  # fmt: skip
        with pytest.raises(ArgumentError):
            bad()
    endless = iter(range(10**9))
    assert _matches(endless, list[str]) is False and _matches(endless, __import__("typing").Iterable[str])
    assert next(endless) == 0  # an iterator is not consumed
    assert _matches(Path("x"), str | Path) and not _matches("x", Path)
