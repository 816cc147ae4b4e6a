"""Fuzzing the command line with random and hostile names, contexts and option values.

Whatever the input, a command exits 0, 1 or 2, never with a traceback or an uncaught exception, and with
``--json`` its stdout is exactly one JSON document (an object or a list), an error included. Reproducible
(``derandomize``); about 420 examples in all, well under a minute.
"""

from __future__ import annotations

import functools
import json
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from interplay import api
from interplay.cli.app import app

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HOSTILE = [
    "[/]",
    "[link=http://x]y[/link]",
    "[bold red]",
    "[",
    "]",
    "\\",
    "[bold]x",
    "x[/bold]",
    "=",
    "==",
    "a=b=c",
    ",",
    " ",
    "",
    "-",
    "--",
    "--json",
    "--help",
    "-c",
    "%s%n",
    "{0}",
    "'\"",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "é",
    "🙂",
    "None",
    "null",
    "nan",
    "1e999",
    "-1",
    "0",
    "99999999999999999999",
    "x" * 300,
]
NAMES = ["DP", "dp", "differential-privacy", "evasion", "MIA", "RD1", "FD2", "AT", "R1", "F", "membership inference"]
KEYS = ["adversary", "theft", "adversary-knows-defense"]
VALUES = ["malicious-accuser", "malicious-suspect", "any", "extraction", "fine-tuning", "true", "false"]

text = st.text(max_size=30)
hostile = st.sampled_from(HOSTILE)
name = st.one_of(st.sampled_from(NAMES), hostile, text)
contexts = st.lists(
    st.one_of(
        st.builds(lambda k, v: f"{k}={v}", st.one_of(st.sampled_from(KEYS), hostile, text),
                  st.one_of(st.sampled_from(VALUES), hostile, text)),
        hostile,
        text,
    ),
    max_size=3,
)  # fmt: skip
method = st.one_of(st.sampled_from(["graph", "guideline", "shortest-path"]), hostile)


@pytest.fixture(scope="module", autouse=True)
def _one_kb():
    """Load the built-in KB once (the fuzzed commands read it, they do not change it): the time goes to inputs."""
    kb, load = api.load_kb(), api.load_kb

    def cached(kb_dir=None, overlays=(), **kwargs):
        return kb if kb_dir is None and not tuple(overlays) and not kwargs else load(kb_dir, overlays, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "load_kb", cached)
        yield


def _check(args: list[str], as_json: bool) -> None:
    """Run ``interplay ARGS`` and check the outcome is a clean one (``as_json``: ARGS hold ``--json``)."""
    r = CliRunner().invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
    assert r.exit_code in (0, 1, 2), (args, r.exit_code, r.output)
    assert "Traceback" not in r.output, (args, r.output)
    if as_json:
        doc = json.loads(r.stdout)  # raises on an empty stdout or on a second document
        assert isinstance(doc, dict | list), (args, r.stdout)
        if r.exit_code:
            assert isinstance(doc, dict) and set(doc) == {"error"} and set(doc["error"]) == {"kind", "message"}


def _options(ctx: list[str], as_json: bool) -> list[str]:
    """``--context=VALUE`` keeps a value that looks like an option (``--json``) a value."""
    return [f"--context={c}" for c in ctx] + (["--json"] if as_json else [])


@settings(FUZZ, max_examples=90)
@given(
    command=st.sampled_from(["predict", "explain", "predict-combo"]),
    a=name,
    b=name,
    ctx=contexts,
    m=method,
    as_json=st.booleans(),
)
def test_predict_explain_and_pairs(command, a, b, ctx, m, as_json):
    opts = _options(ctx, as_json) + ([f"--method={m}"] if command != "predict-combo" else [])
    _check([command, *opts, "--", a, b], as_json)


@settings(FUZZ, max_examples=60)
@given(
    command=st.sampled_from(["matrix", "conflicts", "matrix --combos"]), ctx=contexts, m=method, as_json=st.booleans()
)
def test_matrix_and_conflicts(command, ctx, m, as_json):
    _check([*command.split(), *_options(ctx, as_json), f"--method={m}"], as_json)


@settings(FUZZ, max_examples=65)
@given(
    command=st.sampled_from(["kb show", "list"]),
    what=st.one_of(name, st.sampled_from(["defenses", "risks", "factors"])),
    as_json=st.booleans(),
)
def test_kb_show_and_list(command, what, as_json):
    _check([*command.split(), *(["--json"] if as_json else []), "--", what], as_json)


cell = st.one_of(st.sampled_from(NAMES + ["increase", "decrease", "none", "up", "down"]), hostile, text)
safe_name = st.text(alphabet=string.ascii_letters + string.digits + "[]=,;.-_ ", min_size=1, max_size=20)


@settings(FUZZ, max_examples=60)
@given(
    header=st.one_of(st.just(["defense", "risk", "direction"]), st.lists(cell, max_size=4)),
    rows=st.lists(st.lists(cell, max_size=4), max_size=4),
    filename=safe_name,
    suffix=st.sampled_from([".csv", ".yaml", ".txt"]),
    m=method,
    as_json=st.booleans(),
)
def test_eval_file(header, rows, filename, suffix, m, as_json):
    def quote(c: str) -> str:
        return '"' + c.replace('"', '""') + '"'

    body = "\n".join(",".join(map(quote, line)) for line in [header, *rows])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (filename.strip(". ") or "f")
        path = path.with_name(path.name + suffix)
        path.write_text(body, encoding="utf-8")
        _check(["eval", "file", *(["--json"] if as_json else []), f"--method={m}", "--", str(path)], as_json)


bad_seeds = st.one_of(st.integers(max_value=1), st.integers(min_value=1001), hostile, text)


@settings(FUZZ, max_examples=65)
@given(
    command=st.sampled_from(["validate", "validate-combo"]),
    a=name,
    b=name,
    seeds=bad_seeds,
    preset=st.one_of(st.sampled_from(["default", "quick", "tiny"]), hostile, text),
    param=st.lists(st.one_of(st.sampled_from(["AT.eps=0.1", "differential-privacy.epsilon=2"]), hostile, text),
                   max_size=2),
    dataset=st.one_of(st.sampled_from(["synthetic", "digits"]), hostile, text),
    ctx=contexts,
    as_json=st.booleans(),
)  # fmt: skip
def test_validate_fails_before_training(tmp_path_factory, command, a, b, seeds, preset, param, dataset, ctx, as_json):
    """Seeds are always out of range, so nothing is trained; every other input is checked before the seeds."""
    pytest.importorskip("torch")
    store = tmp_path_factory.mktemp("fuzz") / "s.sqlite"
    opts = [f"--seeds={seeds}", f"--preset={preset}", f"--dataset={dataset}", f"--store={store}"]
    opts += [f"--param={p}" for p in param] + _options(ctx, as_json)
    _check([command, *opts, "--", a, b], as_json)
    assert not store.exists()


def _param_names() -> list[str]:
    from interplay.validators.registry import catalogue

    return [f"{p['slug']}.{q['name']}" for p in catalogue() for q in p["params"]]


@functools.cache
def _choices() -> frozenset[str]:
    from interplay.validators.registry import catalogue

    return frozenset(c for p in catalogue() for q in p["params"] for c in q["choices"] or [])


non_finite = st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999"])
huge = st.one_of(st.integers(min_value=10**6), st.floats(min_value=1e6, allow_infinity=False)).map(str)
negative = st.one_of(st.integers(max_value=-1), st.floats(max_value=-1e-6, allow_infinity=False)).map(str)
words = st.text(alphabet=string.ascii_letters + "-_[]/\\'\"; ", min_size=1, max_size=20).filter(
    lambda s: s.strip() and s.strip() not in _choices() and s.strip().lower() not in ("e", "true", "false", "yes", "no")
)


@settings(FUZZ, max_examples=80)
@given(key=st.sampled_from(_param_names()), value=st.one_of(non_finite, huge, negative, words))
def test_param_values_outside_every_domain(tmp_path_factory, key, value):
    """NaN, infinities, huge and negative numbers and words: every parameter refuses each (no parameter's domain
    reaches 10**6 or below 0, and a word is none of its choices), exit 2 with a message naming the parameter and
    nothing stored."""
    pytest.importorskip("torch")
    store = tmp_path_factory.mktemp("fuzz") / "s.sqlite"
    r = CliRunner().invoke(
        app, ["validate", "AT", "evasion", "--preset=tiny", f"--store={store}", f"--param={key}={value}", "--json"]
    )
    assert r.exit_code == 2, (key, value, r.output)
    error = json.loads(r.stdout)["error"]
    assert error["kind"] == "ParamError" and error["message"].startswith(f"--param {key}: "), (key, value, error)
    assert not store.exists()
