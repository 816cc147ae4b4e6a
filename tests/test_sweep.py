"""Factor sweeps in quick form: M1 and D3, each validated at two values, verdicts stored on KB edges."""

import json

import pytest

from interplay.interactions.claims import claimed_edges
from interplay.interactions.validated import load_validations
from interplay.validators.store import ResultStore
from interplay.validators.sweep import KNOBS


def test_claims_come_from_the_kb(kb):
    m1 = claimed_edges(kb, "model-capacity", "membership-inference")
    assert m1 == ("+", ["model-capacity--membership-inference"])
    sign, edges = claimed_edges(kb, "input-dimensionality", "membership-inference")
    assert sign == "-" and edges == ["input-dimensionality--memorization", "memorization--membership-inference"]


@pytest.mark.parametrize(
    "factor,values,claim",
    [("M1", "small,medium", "increase"), ("D3", "10,40", "decrease")],
)
def test_quick_sweep_stores_a_verdict_on_the_claimed_edges(cli, tmp_path, factor, values, claim):
    store = tmp_path / "s.sqlite"
    args = ("sweep", "DP", "MIA", "--factor", factor, "--values", values, "--quick", "--seeds", "2",
            "--store", store, "-o", tmp_path, "--json")  # fmt: skip
    r = cli(*args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [p["value"] for p in doc["points"]] == values.split(",")
    assert doc["claim"]["direction"] == claim and doc["factor_node"] == KNOBS[factor].node
    trend = doc["risk_trend"]["direction"]
    expected = "inconclusive" if trend == "none" else ("confirms" if trend == claim else "contradicts")
    assert doc["verdict"] == expected
    stem = tmp_path / f"sweep-differential-privacy-membership-inference-{factor}"
    assert stem.with_suffix(".png").exists() and stem.with_suffix(".pdf").exists()
    (stored,) = ResultStore(store).sweeps()
    assert stored["edge_ids"] == doc["claim"]["edges"]
    layer = load_validations(store)
    assert layer.cell("differential-privacy", "membership-inference").seeds == 2
    assert all(m.verdict == doc["verdict"] for e in doc["claim"]["edges"] for m in layer.sweeps[e])
    again = json.loads(cli(*args).stdout)  # every point is in the store: nothing is retrained
    assert again["risk_trend"] == doc["risk_trend"]


@pytest.mark.parametrize(
    "args",
    [
        ("--factor", "O3", "--values", "1,2"),
        ("--factor", "M1", "--values", "small"),
        ("--factor", "M1", "--values", "small,huge"),
        ("--factor", "D2", "--values", "0.1,0.2", "--dataset", "adult"),
    ],
)
def test_bad_sweeps_exit_2(cli, tmp_path, args):
    r = cli("sweep", "DP", "MIA", *args, "--quick", "--store", tmp_path / "s.sqlite", "-o", tmp_path)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_a_sweep_reads_the_seeds_of_each_point_as_run_after_calibration(tmp_path):
    """A calibrated probe changes a point's configuration before it runs; the sweep reads that one's seeds."""
    from dataclasses import replace

    from interplay.validators.experiment import ValidationConfig, run_validation
    from interplay.validators.settings import default_settings
    from interplay.validators.sweep import run_sweep
    from interplay.verdicts import validation_judge

    store = ResultStore(tmp_path / "s.sqlite")
    calibrating = replace(default_settings("synthetic", "tiny"), calibrate=True)
    cfg = ValidationConfig("outlier-removal", "poisoning", calibrating)
    judge = validation_judge(None)
    doc = run_sweep(cfg, "M1", ["small", "medium"], 2, judge, ("+", []), store)
    assert all(len(store.runs(p["config_hash"])) == 2 for p in doc["points"])
    for p in doc["points"]:  # each point's hash is that of its configuration as run alone, calibrated
        alone = run_validation(replace(cfg, settings=KNOBS["M1"].apply(cfg.settings, p["value"])), 2, judge, store)
        assert p["config_hash"] == alone["config_hash"] and "poisoning" in alone["calibration"]
    assert doc["risk_trend"]["direction"] in ("increase", "decrease", "none") and "rho" in doc["risk_trend"]
