import json

import pytest

from interplay.interactions import ContextError, predict, predict_all
from interplay.interactions.evaluate import leave_one_paper_out, score_records
from interplay.kb import load_kb


@pytest.mark.parametrize(
    "defense,risk,direction,resolution",
    [
        ("differential-privacy", "evasion", "increase", "dominant"),  # O1, O3 dominate D2
        ("group-fairness", "membership-inference", "increase", "dominant"),  # O3 dominates D4
        ("group-fairness", "data-reconstruction", "decrease", "unanimous"),  # Sec. 5.1 conjecture (O2.2)
        ("explanations", "distribution-inference", "increase", "unanimous"),  # Sec. 5.2 conjecture (O2.1)
    ],
)
def test_guideline_reproduces_the_sok(kb, defense, risk, direction, resolution):
    p = predict(kb, defense, risk, method="guideline")
    assert (p.direction, p.resolution) == (direction, resolution)


def test_guideline_reports_factors_and_cannot_reach_cells_without_common_factors(kb):
    p = predict(kb, "explanations", "distribution-inference", method="guideline")
    assert "common factors: O2.1" in p.notes[0] and "D3" in p.notes[1] and "M1" in p.notes[1]
    assert predict(kb, "fingerprinting", "model-ownership", method="guideline").direction == "unknown"


@pytest.mark.parametrize(
    "defense,risk,context,direction",
    [
        ("adversarial-training", "model-ownership", {}, "increase"),
        ("adversarial-training", "model-ownership", {"adversary": "malicious-accuser"}, "decrease"),
        ("differential-privacy", "distribution-inference", {}, "decrease"),
        ("differential-privacy", "distribution-inference", {"adversary-knows-defense": "true"}, "increase"),
        ("group-fairness", "attribute-inference", {}, "decrease"),
        ("group-fairness", "attribute-inference", {"adversary-knows-defense": "true"}, "increase"),
    ],
)
def test_graph_predicts_the_sok_exceptions_under_their_context(kb, defense, risk, context, direction):
    p = predict(kb, defense, risk, context=context)
    assert p.direction == direction
    assert p.known["direction"] == direction  # the exception applies under the same context


def test_prediction_document_carries_paths_with_evidence(kb):
    doc = predict(kb, "AT", "MIA").to_dict()
    assert doc["defense"] == "adversarial-training" and doc["risk"] == "membership-inference"
    assert doc["prediction"] in {"increase", "decrease", "none", "ambiguous", "unknown"}
    assert 0 < doc["confidence"] <= 1
    edge = doc["paths"][0]["edges"][0]
    assert edge["evidence"] and {"ref", "kind"} <= set(edge["evidence"][0])
    assert doc["known"]["direction"] == "increase"


def test_graph_beats_the_guideline_on_the_full_kb(kb):
    def correct(method):
        preds = predict_all(kb, method)
        return sum(bool(p.known) and p.direction == p.known["direction"] for p in preds)

    assert correct("graph") > correct("guideline") == 28


def test_observations_are_never_traversed(kb_copy):
    before = {(p.defense, p.risk): p.direction for p in predict_all(load_kb(kb_copy))}
    text = (kb_copy / "observations.yaml").read_text()
    flipped = text.replace("direction: increase", "direction: TMP").replace(
        "direction: decrease", "direction: increase"
    )
    (kb_copy / "observations.yaml").write_text(flipped.replace("direction: TMP", "direction: decrease"))
    after = {(p.defense, p.risk): p.direction for p in predict_all(load_kb(kb_copy))}
    assert before == after


def test_bad_context_is_an_error(kb):
    with pytest.raises(ContextError, match="unknown context key"):
        predict(kb, "AT", "R3", context={"attacker": "x"})
    with pytest.raises(ContextError, match="must be one of"):
        predict(kb, "AT", "R3", context={"adversary": "thief"})


TINY = """
defenses:
- {id: shield, name: Shield, category: security, targets: [leak]}
risks:
- {id: leak, name: Leak, category: privacy}
factors:
- {id: knob, name: Knob, group: objective, drives: [], active: true}
edges:
- id: shield--knob
  source: shield
  target: knob
  sign: increases
  role: defense-factor
  evidence: [{ref: cellpaper, kind: empirical}]
- id: knob--leak
  source: knob
  target: leak
  sign: increases
  role: risk-factor
  evidence: [{ref: other, kind: empirical}]
observations:
- {id: shield/leak, defense: shield, risk: leak, direction: increase, refs: [cellpaper]}
references:
- {key: cellpaper, status: external}
- {key: other, status: external}
- {key: duddu2024sok, status: external}
contexts: []
"""


def test_leave_one_paper_out_hides_the_cells_references(tmp_path):
    (tmp_path / "kb.yaml").write_text(TINY)
    tiny = load_kb(tmp_path)
    assert predict(tiny, "shield", "leak").direction == "increase"
    loo = leave_one_paper_out(tiny)
    assert (loo.n, loo.correct) == (1, 0)  # the only support of shield->knob is the cell's paper
    assert (loo.cases[0].predicted, loo.cases[0].resolution) == ("none", "no-path")
    (tmp_path / "kb.yaml").write_text(
        TINY.replace(
            "[{ref: cellpaper, kind: empirical}]",
            "[{ref: cellpaper, kind: empirical}, {ref: other, kind: theoretical}]",
        )
    )
    assert leave_one_paper_out(load_kb(tmp_path)).correct == 1


def test_score_records_counts_unresolved(kb):
    records = [
        {"defense": "DP-SGD", "risk": "MIA", "direction": "down"},
        {"defense": "AT", "risk": "membership", "direction": "up", "source": "x"},
        {"defense": "quantum-shield", "risk": "MIA", "direction": "up"},
        {"defense": "AT", "risk": "MIA", "direction": "sideways"},
    ]
    s = score_records(kb, records).to_dict()
    assert (s["n"], s["correct"], len(s["unresolved"])) == (2, 2, 2)
    assert "did you mean" not in s["unresolved"][1]["reason"] and "sideways" in s["unresolved"][1]["reason"]


def test_cli_predict_explain_matrix_eval(cli, tmp_path):
    doc = json.loads(cli("predict", "RD1", "P1", "--json").stdout)
    assert {"defense", "risk", "prediction", "confidence", "paths", "known"} <= set(doc)
    assert "supporting paths" in cli("explain", "PD1", "R1").stdout
    cells = json.loads(cli("matrix", "--json").stdout)
    assert len(cells) == 56 and all(c["prediction"] for c in cells)
    loo = json.loads(cli("eval", "loo", "--json").stdout)
    assert {"n", "covered", "correct", "accuracy", "coverage"} <= set(loo) and loo["n"] == 42
    assert {b["method"] for b in loo["baselines"]} == {"majority", "guideline", "shortest-path"}
    csv_file = tmp_path / "reported.csv"
    csv_file.write_text("defense,risk,direction\nDP,evasion,up\nnope,evasion,up\n")
    scored = json.loads(cli("eval", "file", csv_file, "--json").stdout)
    assert scored["n"] == 1 and scored["correct"] == 1 and len(scored["unresolved"]) == 1
    conflicts = json.loads(cli("conflicts", "--json").stdout)
    assert conflicts and conflicts[0]["balance"] >= conflicts[-1]["balance"]


@pytest.mark.parametrize(
    "args",
    [
        ("predict", "ATT", "P1"),
        ("predict", "AT", "P9"),
        ("predict", "AT", "P1", "--context", "adversary"),
        ("predict", "AT", "P1", "--context", "who=me"),
        ("predict", "AT", "P1", "--method", "oracle"),
        ("eval", "file", "/nonexistent.yaml"),
    ],
)
def test_cli_usage_errors_exit_2(cli, args):
    r = cli(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_defenses_select_the_sok_seven_all_fifteen_or_names(cli):
    sok = json.loads(cli("matrix", "--json").stdout)
    every = json.loads(cli("matrix", "--defenses", "all", "--json").stdout)
    assert len(sok) == 56 and len(every) == 120
    assert {c["defense"] for c in every} - {c["defense"] for c in sok} == {
        "pruning", "quantization", "distillation", "label-smoothing", "data-augmentation", "unlearning", "dropout",
        "weight-decay",
    }  # fmt: skip
    assert all(c["known"] is None for c in every if c["defense"] not in {d["defense"] for d in sok})
    two = json.loads(cli("matrix", "--defenses", "DP,pruning", "--json").stdout)
    assert [c["defense"] for c in two][::8] == ["differential-privacy", "pruning"]
    bad = cli("matrix", "--defenses", "prunning")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
