"""Factor probes on cases with a known answer, and ``measure``: a defense's factors against the KB's edges."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from interplay.interactions.validated import load_validations  # noqa: E402
from interplay.validators.data import Split  # noqa: E402
from interplay.validators.defenses.base import Deployment  # noqa: E402
from interplay.validators.factors import (  # noqa: E402
    BOUNDARY_CAP,
    ESTIMATORS,  # noqa: E402
    Context,
    UnknownFactor,
    boundary_distances,
    estimate,
)
from interplay.validators.measure import MeasureConfig, factor_edges, run_measure  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402

TINY = default_settings("synthetic", "tiny")


def _linear(w: torch.Tensor, b: float) -> nn.Module:
    """Two-class logits (0, w.x + b): the boundary is w.x + b = 0, at L-infinity distance |w.x + b| / ||w||_1."""
    layer = nn.Linear(len(w), 2)
    with torch.no_grad():
        layer.weight.copy_(torch.stack([torch.zeros_like(w), w]))
        layer.bias.copy_(torch.tensor([0.0, b]))
    return layer.eval()


def _context(model: nn.Module, task, settings=TINY) -> Context:
    return Context(Deployment(model, {}, trained_on=task.train), task, settings)


def test_boundary_distance_of_a_linear_model_is_its_closed_form_up_to_the_grid(tiny_task):
    w = torch.tensor([1.0, -2.0, 0.5] + [0.0] * (tiny_task.train.x.shape[1] - 3))
    model = _linear(w, 0.3)
    x = tiny_task.train.x[:100]
    exact = (x @ w + 0.3).abs() / w.abs().sum()
    got = boundary_distances(model, x)
    inside = exact < BOUNDARY_CAP / 1.5
    assert inside.sum() > 50
    assert torch.all(got[inside] >= exact[inside] - 1e-4) and torch.all(got[inside] <= 1.5 * exact[inside] + 0.011)


def test_norm_curvature_and_overfitting_have_their_known_values(tiny_task):
    n_in = tiny_task.train.x.shape[1]
    zero = _linear(torch.zeros(n_in), 0.0)
    assert estimate("curvature-smoothness", _context(zero, tiny_task)) == 0.0  # a constant model is flat
    assert estimate("model-capacity", _context(zero, tiny_task)) == 0.0
    mlp = nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, 2)).eval()
    doubled = copy.deepcopy(mlp)
    with torch.no_grad():
        for p in doubled.parameters():
            p.mul_(2)
    capacity = estimate("model-capacity", _context(mlp, tiny_task))
    assert estimate("model-capacity", _context(doubled, tiny_task)) == pytest.approx(2 * capacity, rel=1e-5)
    assert estimate("curvature-smoothness", _context(doubled, tiny_task)) < estimate(
        "curvature-smoothness", _context(mlp, tiny_task)
    )  # larger weights, a sharper loss surface
    constant = _linear(torch.zeros(n_in), -5.0)  # always class 0
    expected = (tiny_task.train.y == 0).float().mean() - (tiny_task.test.y == 0).float().mean()
    assert estimate("overfitting", _context(constant, tiny_task)) == pytest.approx(float(expected), abs=1e-6)


def test_distinguishability_is_zero_between_identical_sets_and_priority_reads_the_stable_attributes(tiny_task):
    n_in = tiny_task.train.x.shape[1]
    same = replace(tiny_task, test=tiny_task.train)
    mlp = nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    assert estimate("distinguishability-datasets", _context(mlp, same)) == 0.0
    f = TINY.synthetic
    stable = torch.zeros(n_in)
    stable[: f.n_stable] = 1.0
    spurious = torch.zeros(n_in)
    spurious[f.n_stable : f.n_stable + f.n_spurious] = 1.0
    assert estimate("stable-attribute-priority", _context(_linear(stable, 0.0), tiny_task)) == pytest.approx(1.0)
    assert estimate("stable-attribute-priority", _context(_linear(spurious, 0.0), tiny_task)) == pytest.approx(0.0)
    digits = default_settings("digits", "tiny")
    with pytest.raises(UnknownFactor, match="synthetic"):
        estimate("stable-attribute-priority", _context(mlp, tiny_task, digits))


def test_tail_and_size_count_the_records_trained_on(tiny_task):
    kept = tiny_task.train.take(torch.nonzero(tiny_task.train.s == 0).squeeze(1).numpy()[:100])
    c = Context(Deployment(nn.Linear(1, 2), {}, trained_on=Split(kept.x, kept.y, kept.s)), tiny_task, TINY)
    assert estimate("training-data-size", c) == 100.0 and estimate("tail-length", c) == 0.0


def test_measure_compares_the_defense_with_the_kb_edges_and_stores_each_seed(kb, tmp_path):
    edges = factor_edges(kb.edges, "outlier-removal")
    assert edges["training-data-size"][1] == "decreases"
    cfg = MeasureConfig("outlier-removal", TINY, ("training-data-size", "overfitting", "tail-length"))
    store = ResultStore(tmp_path / "s.db")
    doc = run_measure(cfg, 2, edges, store)
    size = doc["factors"]["training-data-size"]
    assert size["difference"] == -round(0.1 * TINY.n_train)
    assert size["observed"] == "decrease" and size["verdict"] == "confirms"  # outlier removal drops 10%
    assert doc["factors"]["overfitting"]["verdict"] is None  # the KB has no outlier-removal -> overfitting edge
    assert len(store.runs(doc["config_hash"])) == 2
    layer = load_validations(store.path)
    edge = edges["training-data-size"][0]
    assert layer.measured_marks == {edge: "confirmed"} and not layer.edge_marks  # evidence, not a sweep mark


def test_measured_evidence_supports_only_a_defense_edge_and_can_keep_it_in_leave_one_paper_out(kb):
    from interplay.interactions.graph import build_graph
    from interplay.interactions.validated import Validations

    d_edges = [e for e in kb.edges if e.source == "differential-privacy" and e.target in ESTIMATORS]
    f_edges = [e for e in kb.edges if e.source in ESTIMATORS and e.target in kb.risks]
    measured = {d_edges[0].id: "confirmed", f_edges[0].id: "confirmed"}
    every_ref = {ev.ref for e in kb.edges for ev in e.evidence}
    hidden = build_graph(kb, excluded_refs=every_ref, measured=measured)
    kept = {k for *_, k in hidden.edges(keys=True)}
    assert kept == {d_edges[0].id}  # the factor -> risk edge has no literature left and gets nothing measured
    assert not list(build_graph(kb, excluded_refs=every_ref, measured=measured, evidence="literature").edges)
    both = build_graph(kb, measured=measured)
    alone = build_graph(kb, measured=measured, evidence="measured")
    e = d_edges[0]
    assert both.edges[e.source, e.target, e.id]["weight"] > build_graph(kb).edges[e.source, e.target, e.id]["weight"]
    assert alone.edges[e.source, e.target, e.id]["evidence"] == []
    assert Validations().measured_marks == {}


def test_the_latex_export_tables_the_measured_factors_beside_the_kb_signs(kb, tmp_path):
    from interplay.export.latex import render
    from interplay.export.model import build_export_model

    store = ResultStore(tmp_path / "s.db")
    cfg = MeasureConfig("outlier-removal", TINY, ("training-data-size",))
    run_measure(cfg, 2, factor_edges(kb.edges, "outlier-removal"), store)
    model = build_export_model(kb, include="observations,validations", validations=load_validations(store.path))
    (m,) = model.measurements
    assert (m.defense, m.factor, m.verdict) == ("outlier-removal", "training-data-size", "confirms")
    tex = render(model)
    assert "tab:interplay-factors" in tex and r"$-$ & \ipDec & confirms" in tex


def test_the_report_lists_the_measured_factors(kb, tmp_path):
    from interplay.export.report import write_report

    store = ResultStore(tmp_path / "s.db")
    run_measure(MeasureConfig("outlier-removal", TINY, ("training-data-size",)), 2,
                factor_edges(kb.edges, "outlier-removal"), store)  # fmt: skip
    html = write_report(kb, tmp_path / "r.html", validations=load_validations(store.path)).read_text()
    assert 'id="factors"' in html and "training-data-size" in html and ">confirms<" in html


def test_measure_command_and_the_reasoner_reading_its_evidence(cli, tmp_path):
    import json

    store = tmp_path / "s.db"
    small = ("--preset", "tiny", "--seeds", "2", "--store", store, "--json")
    r = cli("measure", "outlier-removal", "--factors", "D1,overfitting", *small)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["factors"]["training-data-size"]["verdict"] == "confirms" and doc["seeds"] == 2
    bad = cli("measure", "outlier-removal", "--factors", "no-such-factor", *small)
    assert bad.exit_code == 2 and "no estimator" in json.loads(bad.stdout)["error"]["message"]
    loo = json.loads(cli("eval", "loo", "--store", store, "--json").stdout)
    assert loo["evidence"] == "all" and loo["literature_only"]["n"] == loo["n"] == 42
    assert json.loads(cli("eval", "loo", "--json").stdout)["evidence"] == "literature"
    paths = json.loads(cli("explain", "outlier-removal", "MIA", "--store", store, "--json").stdout)["paths"]
    measured = {(e["id"], e["measured"]) for p in paths for e in p["edges"] if e.get("measured")}
    assert measured == {("outlier-removal--training-data-size", "confirmed")}
    literature = cli("explain", "outlier-removal", "MIA", "--store", store, "--evidence", "literature", "--json")
    assert not any(e.get("measured") for p in json.loads(literature.stdout)["paths"] for e in p["edges"])
    assert cli("explain", "outlier-removal", "MIA", "--store", store, "--evidence", "sideways").exit_code == 2
    status = cli("status", "--store", store)
    assert status.exit_code == 0 and "Measured factors" in status.stdout and "training-data-size" in status.stdout


def test_mediators_compare_each_measured_factor_with_the_sign_its_path_predicts(kb, tmp_path):
    import interplay
    from interplay.interactions import predict
    from interplay.interactions.mediators import path_steps

    p = predict(kb, "differential-privacy", "membership-inference")
    steps = path_steps(p, {"model-capacity": "decrease", "boundary-distance": "increase"})
    capacity = [s for path in steps for s in path["steps"] if s["factor"] == "model-capacity"]
    assert capacity and all(s["status"] == ("agrees" if s["expected"] == "decrease" else "disagrees") for s in capacity)
    assert all(s["factor"] in ("model-capacity", "boundary-distance") for path in steps for s in path["steps"])
    v = interplay.validate("differential-privacy", "membership-inference", preset="tiny", seeds=2,
                           store=tmp_path / "s.db", setting="generic", mediators=True).to_dict()  # fmt: skip
    measured = v["mediators"]["factors"]
    assert {"model-capacity", "boundary-distance"} <= set(measured) and v["mediators"]["paths"]
    for path in v["mediators"]["paths"]:
        for s in path["steps"]:
            assert s["observed"] == measured[s["factor"]]["observed"]
    effect, predicted = v["mediators"]["effect"], v["mediators"]["predicted_effect"]
    assert effect["observed"] == v["effect"]["difference"] and predicted["assumptions"]
    first = {p["nodes"][1] for p in predicted["paths"] if p["nodes"][1] in measured}
    on_measured = [p for p in predicted["paths"] if p["nodes"][1] in first]
    assert on_measured and all(p["edges"][0] not in p["missing"] for p in on_measured)  # this run's measurement
    assert effect["predicted"] is None and predicted["quantified"] == 0


def test_memorization_is_high_for_a_unique_mislabelled_record_and_low_for_a_duplicated_one(tiny_task):
    from interplay.validators.defenses.base import DefensePlugin
    from interplay.validators.factors import memorization_scores
    from interplay.validators.training import TrainSpec

    settings = replace(TINY, train=TrainSpec(epochs=40, batch_size=64, capacity="large"))
    train = tiny_task.train
    y = train.y.clone()
    y[:2] = 1 - y[:2]  # two mislabelled records: the first is duplicated 19 more times, the second is unique
    copies = torch.zeros(19, dtype=torch.long)
    members = Split(
        torch.cat([train.x, train.x[copies]]), torch.cat([y, y[copies]]), torch.cat([train.s, train.s[copies]])
    )
    deployment = DefensePlugin(settings, tiny_task).deploy(members, 0)
    duplicated, unique = memorization_scores(deployment, members, records=2, models=8, seed=0)
    assert unique > 0.5 and duplicated < 0.2, (duplicated, unique)
