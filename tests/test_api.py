"""The Python API: what a notebook user calls, the same documents as the command line, typed and printable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import interplay
from interplay.errors import UsageError


def test_predicting_never_imports_torch():
    code = "import interplay, sys; p = interplay.predict('DP', 'evasion'); print(p); assert 'torch' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("differential-privacy -> evasion: increase")


def test_a_prediction_prints_and_renders(kb):
    p = interplay.predict("DP", "evasion", kb=kb)
    assert p.direction == interplay.Direction.increase and isinstance(p.direction, interplay.Direction)
    assert repr(p) == "Prediction(differential-privacy -> evasion: increase, graph)"
    assert "literature: increase" in str(p) and "<table>" in p._repr_html_()
    assert json.loads(json.dumps(p.to_dict()))["prediction"] == "increase"


def test_matrix_and_explain_are_the_cli_documents(cli, kb):
    assert interplay.api.matrix_document(interplay.matrix(kb=kb)) == json.loads(cli("matrix", "--json").stdout)
    explained = interplay.explain("FD1", "MIA", kb=kb).to_dict()
    assert explained == json.loads(cli("explain", "FD1", "MIA", "--json").stdout)


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: interplay.predict("DP", "evasionn"), "did you mean 'evasion'"),
        (lambda: interplay.predict("DP", "evasion", method="oracle"), "unknown method"),
        (lambda: interplay.validate("DP", "MIA", preset="huge"), "unknown preset"),
        (lambda: interplay.validate("DP", "MIA", dataset="cifar"), "unknown dataset"),
        (lambda: interplay.validate("DP", "MIA", seeds=1, preset="tiny"), "at least 2"),
        (lambda: interplay.validate("DP", "MIA", params={"differential-privacy.sigma": 1}), "valid parameters"),
        (lambda: interplay.status(store="/nonexistent/s.sqlite"), "no results store"),
    ],
)
def test_wrong_input_raises_a_usage_error(call, fragment):
    with pytest.raises(UsageError, match=fragment):
        call()


def test_a_json_error_is_one_document(cli):
    r = cli("predict", "DP", "evasionn", "--json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc == {"error": {"kind": "UnknownName", "message": "unknown risk 'evasionn'; did you mean 'evasion'?"}}


def test_validate_is_the_cli_document(cli, tmp_path):
    pytest.importorskip("torch")
    store = tmp_path / "s.sqlite"
    v = interplay.validate("adversarial-training", "evasion", preset="quick", store=store)
    r = cli("validate", "adversarial-training", "evasion", "--quick", "--json", "--store", store)
    assert r.exit_code == 0, r.output
    ours, theirs = v.to_dict(), json.loads(r.stdout)
    assert {k: x for k, x in ours.items() if k != "runtime_s"} == {k: x for k, x in theirs.items() if k != "runtime_s"}
    assert (v.defense, v.risk, v.seeds) == ("adversarial-training", "evasion", 3)
    assert v.verdict in interplay.Verdict and v.effect.p_value == ours["effect"]["p_value"]
    assert repr(v) == f"Validation(adversarial-training -> evasion: {v.verdict})"
    text = str(v)
    assert "prediction decrease" in text and f"p {v.effect.p_value:.2g}" in text and str(v.verdict) in text
    assert v._repr_html_().startswith("<table>") and "verdict" in v._repr_html_()
    listed = interplay.results(store)
    assert [(c.defense, c.risk) for c in listed.cells] == [("adversarial-training", "evasion")]
    status = interplay.status(store=store)
    cell = next(r for r in status.to_dict() if (r["defense"], r["risk"]) == ("adversarial-training", "evasion"))
    assert cell["verdict"] == v.verdict and status.summary["validated"] == 1
