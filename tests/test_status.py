"""The validated-here layer, `interplay status`, sweep marks read back by the reasoner, and `explain --store`.

The store holds hand-written records in the validators' format (tests/validation_store.py): these tests check
the reader and the views, not experiments.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from validation_store import CELLS, REFUTED, SUPERSEDED, make_store

from interplay.interactions import predict, predict_all
from interplay.interactions.graph import edge_weight
from interplay.interactions.status import NOT_VALIDATED, cell_status
from interplay.interactions.validated import CONFIRMED_FACTOR, CONTRADICTED_FACTOR, Validations, load_validations
from interplay.validators.store import ResultStore

AT_MI = ("adversarial-training", "membership-inference")


@pytest.fixture
def store(kb, tmp_path):
    return make_store(kb, tmp_path / "results.sqlite")


def _edges_of_top_path(kb, defense, risk):
    return [e.id for e in predict(kb, defense, risk).paths[0].edges]


def test_layer_keeps_one_record_per_cell_most_seeds_first(store):
    layer = load_validations(store)
    assert set(layer.cells) == set(CELLS)
    rec = layer.cell(*SUPERSEDED)
    assert (rec.verdict, rec.seeds, rec.configurations) == ("confirmed", 5, 2), "most seeds beats newest"
    assert rec.kind == "validated here" and rec.locator == f"cfg-{SUPERSEDED[0]}-{SUPERSEDED[1]}"
    assert [s for s, _, _ in rec.seed_scores] == list(range(5))


def test_missing_store_is_an_empty_layer_and_is_not_created(tmp_path):
    layer = load_validations(tmp_path / "absent.sqlite")
    assert not layer and not (tmp_path / "absent.sqlite").exists()


def test_status_json_has_one_record_per_cell_disagreement_first(cli, store):
    res = cli("status", "--json", "--store", store)
    assert res.exit_code == 0, res.output
    records = json.loads(res.stdout)
    assert len(records) == 56
    assert {(r["defense"], r["risk"]) for r in records} == {(d, r) for d, r, *_ in _all_cells(records)}
    for r in records:
        assert {"defense", "risk", "literature", "prediction", "predictions", "observed", "verdict",
                "agreement"} <= set(r)  # fmt: skip
        assert set(r["predictions"]) >= {"graph", "guideline"} and r["prediction"] == r["predictions"]["graph"]
        assert r["literature"] in ("increase", "decrease", "unexplored")
    first = records[0]
    assert (first["defense"], first["risk"]) == REFUTED
    assert first["verdict"] == "refuted" and first["agreement"] == "disagree"
    verdicts = {(r["defense"], r["risk"]): r["verdict"] for r in records}
    assert {k: v for k, v in verdicts.items() if v != NOT_VALIDATED} == {k: v for k, (v, _) in CELLS.items()}
    assert sum(v == NOT_VALIDATED for v in verdicts.values()) == 56 - len(CELLS)


def _all_cells(records):
    return [(r["defense"], r["risk"]) for r in records]


def test_status_counts_and_agreement_rules(kb, store):
    records = {(r["defense"], r["risk"]): r for r in cell_status(kb, load_validations(store))}
    at_ev = records[SUPERSEDED]
    assert at_ev["literature"] == "decrease" and at_ev["observed"] == "decrease"
    assert at_ev["agreement"] == "all agree", at_ev["agreements"]
    incon = records["differential-privacy", "discrimination"]
    assert incon["agreements"]["prediction-experiment"] is None and incon["observed"] == "none"


def test_status_human_output_and_default_store(cli, store, tmp_path, monkeypatch):
    res = cli("status", "--store", store)
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "56 cells: 4 validated (2 confirmed, 1 refuted, 1 inconclusive, 0 not applicable)" in out
    assert "Experiments against the literature: 42 with a reported direction:" in out
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    res = cli("status", "--json")
    assert res.exit_code == 0 and all(r["verdict"] == NOT_VALIDATED for r in json.loads(res.stdout))
    res = cli("status", "--store", tmp_path / "nope.sqlite")
    assert res.exit_code == 2 and "no results store" in res.output


def test_predictions_without_a_store_are_unchanged(kb):
    plain = [p.to_dict() for p in predict_all(kb)]
    assert plain == [p.to_dict() for p in predict_all(kb, validations=Validations())]
    assert all("validation" not in d for d in plain)
    for p in predict_all(kb):
        for path in p.paths:
            assert all(e.mark == "" for e in path.edges)
    graph_edges = {e.id: e for e in kb.edges}
    at_mi = predict(kb, *AT_MI)
    for e in at_mi.paths[0].edges:
        assert e.weight == pytest.approx(edge_weight(graph_edges[e.id].evidence))


@pytest.mark.parametrize("verdict, factor", [("confirms", CONFIRMED_FACTOR), ("contradicts", CONTRADICTED_FACTOR)])
def test_sweep_marks_scale_path_weights(kb, tmp_path, verdict, factor):
    edge = _edges_of_top_path(kb, *AT_MI)[0]
    layer = load_validations(make_store(kb, tmp_path / "s.sqlite", {edge: verdict}))
    assert layer.edge_marks == {edge: {"confirms": "confirmed", "contradicts": "contradicted"}[verdict]}
    plain = predict(kb, *AT_MI)
    before = {_ids(p): p for p in plain.paths}
    marked = predict(kb, *AT_MI, validations=layer)
    touched = 0
    for p in marked.paths:
        old = before[_ids(p)]
        if edge not in _ids(p):
            assert p.weight == pytest.approx(old.weight)
            continue
        touched += 1
        w = next(e.weight for e in old.edges if e.id == edge)
        assert p.weight == pytest.approx(old.weight / w * min(1.0, w * factor))
        assert (p.weight > old.weight) if factor > 1 else (p.weight < old.weight)
    assert touched >= 1
    assert (marked.confidence > plain.confidence) if factor > 1 else (marked.confidence < plain.confidence)
    swept = [e for path in marked.to_dict()["paths"] for e in path["edges"] if e["id"] == edge]
    assert swept and all(e["sweep"] == layer.edge_marks[edge] for e in swept)


def _ids(path) -> tuple[str, ...]:
    return tuple(e.id for e in path.edges)


def test_tied_sweeps_leave_no_mark(kb, tmp_path):
    edge = _edges_of_top_path(kb, *AT_MI)[0]
    path = make_store(kb, tmp_path / "s.sqlite", {edge: "confirms"})
    ResultStore(path).save_sweep("other", [edge], {"factor": "D1", "edges": {edge: {"verdict": "contradicts"}}})
    assert load_validations(path).edge_marks == {}


def test_save_sweep_rejects_a_summary_without_the_edge_verdict(tmp_path):
    with pytest.raises(ValueError, match="verdict"):
        ResultStore(tmp_path / "s.sqlite").save_sweep("x", ["e1"], {"edges": {"e1": {"verdict": "maybe"}}})


def test_explain_store_shows_marks_and_validation(cli, kb, tmp_path):
    edge = _edges_of_top_path(kb, *SUPERSEDED)[0]
    path = make_store(kb, tmp_path / "s.sqlite", {edge: "confirms"})
    res = cli("explain", *SUPERSEDED, "--store", path)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "confirmed by a sweep" in text and "validated here" in text and "confirmed" in text
    assert "cfg-adversarial-training-evasion" in text
    doc = json.loads(cli("explain", *SUPERSEDED, "--store", path, "--json").stdout)
    assert doc["validation"]["verdict"] == "confirmed" and doc["validation"]["kind"] == "validated here"
    plain = cli("explain", *SUPERSEDED)
    assert "validated here" not in plain.output and "sweep" not in plain.output


def test_the_layer_and_status_do_not_import_torch():
    code = ("import sys, interplay.interactions.status, interplay.interactions.validated, interplay.export.report, "
            "interplay.validators.store; assert 'torch' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_cell_validated_under_both_settings_shows_both_verdicts(kb):
    from interplay.export.latex import cell_tex
    from interplay.export.model import build_export_model
    from interplay.interactions.validated import from_documents

    def doc(setting: str, verdict: str, regime: str | None) -> dict:
        return {"defense": "group-fairness", "risk": "membership-inference", "observed": "none", "verdict": verdict,
                "seeds": 8, "dataset": "synthetic", "config_hash": setting, "setting": {"name": setting},
                "regime": {"regime": regime} if regime else {}}  # fmt: skip

    layer = from_documents([doc("generic", "refuted", None), doc("literature", "inconclusive", "disparity")])
    cell_of = {(r["defense"], r["risk"]): r for r in cell_status(kb, layer)}
    record = cell_of["group-fairness", "membership-inference"]
    assert record["verdict"] == "refuted" and record["regime"] is None  # the generic setting's record leads
    assert record["settings"]["literature"] == {
        "observed": "none",
        "verdict": "inconclusive",
        "regime": "disparity",
        "dataset": "synthetic",
    }
    model = build_export_model(kb, include="observations,validations", validations=layer)
    cell = model.cell("group-fairness", "membership-inference")
    assert (cell.validation, cell.literature_validation) == ("refuted", "inconclusive")
    assert cell_tex(cell).endswith(r"\ipRefuted\ipLit{\ipInconclusive}")
    alone = from_documents([doc("literature", "confirmed", "privacy")])
    only = build_export_model(kb, include="observations,validations", validations=alone).cell(
        "group-fairness", "membership-inference"
    )
    assert (only.validation, only.literature_validation) == (None, "confirmed")
