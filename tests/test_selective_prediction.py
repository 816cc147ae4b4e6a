"""Selective prediction (calibrated probability, abstention), none/mixed answers and quantitative paths."""

from __future__ import annotations

import json

import pytest

from interplay.interactions import predict, predict_all
from interplay.interactions.calibrate import calibration_text
from interplay.interactions.evaluate import leave_one_paper_out
from interplay.interactions.path_effects import Coefficient, predicted_effect, synthetic_check
from interplay.interactions.paths import PathEdge, SignedPath
from interplay.interactions.selective import CALIBRATION, HeldOut, pool, rate, risk_coverage
from interplay.kb import load_kb

TINY = """
defenses:
- {id: shield, name: Shield, category: security, targets: [leak]}
risks:
- {id: leak, name: Leak, category: privacy}
- {id: spill, name: Spill, category: privacy}
factors:
- {id: knob, name: Knob, group: objective, drives: [], active: false}
- {id: dial, name: Dial, group: objective, drives: [], active: false}
edges:
- {id: shield--knob, source: shield, target: knob, sign: increases, role: defense-factor,
   evidence: [{ref: other, kind: empirical}]}
- {id: shield--dial, source: shield, target: dial, sign: increases, role: defense-factor,
   evidence: [{ref: other, kind: empirical}]}
- {id: knob--leak, source: knob, target: leak, sign: increases, role: risk-factor,
   evidence: [{ref: other, kind: empirical}]}
- {id: dial--leak, source: dial, target: leak, sign: decreases, role: risk-factor,
   evidence: [{ref: other, kind: empirical}]}
- {id: knob--spill, source: knob, target: spill, sign: increases, role: risk-factor,
   evidence: [{ref: other, kind: conjectured}]}
observations: []
references:
- {key: other, status: external}
- {key: duddu2024sok, status: external}
contexts: []
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    (d / "kb.yaml").write_text(TINY)
    return load_kb(d)


def test_the_shipped_calibration_is_up_to_date(kb):
    assert CALIBRATION.read_text(encoding="utf-8") == calibration_text(kb), (
        "stale: run python -m interplay.interactions.calibrate"
    )


def test_every_prediction_has_a_probability_and_an_abstention_with_advice(kb):
    for p in predict_all(kb, defenses=list(kb.defenses)):
        doc = p.to_dict()
        assert 0 <= doc["probability"] <= 1 and isinstance(doc["abstain"], bool)
        assert doc["abstain"] == (doc["probability"] <= 0.5)
        assert doc["advice"] == (f"uncertain: run validate {p.defense} {p.risk}" if p.abstain else None)
        assert doc["why"] and doc["prediction"] in doc["why"][0]


def test_a_cells_probability_never_uses_the_cells_own_outcome_nor_its_papers():
    rows = [HeldOut("d", "r", "unanimous", False, ("p1",)), HeldOut("d", "s", "unanimous", False, ("p1", "p2")),
            HeldOut("e", "r", "unanimous", True, ("p3",)), HeldOut("e", "s", "weighted", False, ("p4",))]  # fmt: skip
    used = pool(rows, "unanimous", "d", "r", {"p1"})
    assert used == [rows[2]] and rate(used) == pytest.approx(2 / 3)
    assert rate(pool(rows, "unanimous", "x", "y", set())) == pytest.approx(2 / 5)


def test_answers_none_for_no_path_or_weak_paths_and_mixed_for_a_conflict(tiny):
    conflict = predict(tiny, "shield", "leak")
    assert (conflict.direction, conflict.resolution) == ("mixed", "conflict") and conflict.opposing
    weak = predict(tiny, "shield", "spill")  # one conjectured link: weight 0.3 * 0.7 < 0.3
    assert (weak.direction, weak.resolution) == ("none", "weak") and weak.supporting
    assert "weaker than one conjectured link" in weak.why[0]


def test_an_answer_names_the_context_that_decides_it(kb):
    p = predict(kb, "adversarial-training", "model-ownership")
    assert p.direction == "increase"
    assert p.depends_on == {"adversary": {"malicious-suspect": "increase", "malicious-accuser": "decrease"}}
    assert predict(kb, "DP", "evasion").depends_on == {}


def test_eval_loo_reports_the_selective_figures(kb, cli):
    doc = json.loads(cli("eval", "loo", "--json").stdout)
    sel = doc["selective"]
    assert {"accuracy", "coverage", "threshold"} <= set(sel) and sel["threshold"] == 0.5
    assert sel["answered"] == round(sel["coverage"] * doc["n"]) and sel["correct"] <= sel["answered"]
    coverages = [row["coverage"] for row in doc["risk_coverage"]]
    assert coverages == sorted(coverages) and coverages[-1] == 1.0
    assert sum(row["n"] for row in doc["reliability"]) == doc["n"]
    assert all("probability" in e and "abstain" in e for e in doc["errors"])
    text = cli("eval", "loo").stdout
    assert "selective: accuracy" in text and "Risk-coverage" in text and "Reliability" in text


def test_the_selective_score_is_calibrated_without_the_shipped_file(kb):
    cases = leave_one_paper_out(kb).cases
    held = [c.held_out for c in cases]
    for c in cases:
        assert c.probability == rate(pool(held, c.resolution, c.defense, c.risk, c.refs))


def test_risk_coverage_answers_the_most_probable_first():
    curve = risk_coverage([(0.9, True), (0.9, False), (0.2, False)])
    assert [(r["coverage"], r["accuracy"]) for r in curve] == [(2 / 3, 0.5), (1.0, 1 / 3)]


def test_predict_matrix_and_explain_show_probability_and_abstention(cli):
    doc = json.loads(cli("matrix", "--defenses", "all", "--json").stdout)
    assert len(doc) == 120 and all({"probability", "abstain"} <= set(r) for r in doc)
    assert "abstains" in cli("predict", "explanations", "poisoning").stdout
    assert "uncertain: run validate" in cli("predict", "explanations", "poisoning").stdout
    tree = cli("explain", "explanations", "poisoning").stdout
    assert "why withheld" in tree and "no mechanism path" in tree
    assert "why given" in cli("explain", "watermarking", "MIA").stdout


def test_the_path_model_multiplies_along_and_adds_across_paths():
    e = lambda i, s, t: PathEdge(i, s, t, "increases", 1.0, ())  # noqa: E731
    paths = [SignedPath((e("a", "d", "f"), e("b", "f", "r")), "+", 1.0, True),
             SignedPath((e("c", "d", "g"), e("x", "g", "r")), "+", 1.0, True)]  # fmt: skip
    coefs = {"a": Coefficient(2.0, 0.01, "t"), "b": Coefficient(-0.5, 0.01, "t"), "c": Coefficient(1.0, 0.01, "t")}
    p = predicted_effect(paths, coefs)
    assert p["estimate"] == pytest.approx(-1.0) and p["quantified"] == 1 and p["paths"][1]["missing"] == ["x"]
    assert p["ci95"][0] < -1.0 < p["ci95"][1] and p["assumptions"]
    coefs["x"] = Coefficient(3.0, 0.01, "t")
    assert predicted_effect(paths, coefs)["estimate"] == pytest.approx(2.0)
    assert predicted_effect(paths, {})["estimate"] is None


def test_the_path_model_recovers_known_effects_on_synthetic_linear_models():
    s = synthetic_check(cells=20, n=200, seed=1)
    assert s["sign_accuracy"] >= 0.9 and s["spearman"] >= 0.9 and s["interval_coverage"] >= 0.8


def test_eval_file_scores_the_selective_answers(cli, tmp_path):
    f = tmp_path / "reported.csv"
    f.write_text("defense,risk,direction\nDP,evasion,mixed\nAT,MIA,increase\nexplanations,poisoning,increase\n")
    doc = json.loads(cli("eval", "file", str(f), "--json").stdout)
    assert doc["confusion"]["mixed"]["increase"] == 1  # a reported 'mixed' is a label of its own
    assert doc["selective"]["answered"] == 2 and doc["selective"]["correct"] == 1  # explanations -> poisoning abstains
    assert "selective: accuracy" in cli("eval", "file", str(f)).stdout
