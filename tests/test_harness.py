"""The validation harness: paired seeds, determinism, the store, statistics, the verdict rule, the data and the
CLI's bad input (every plugin pair is covered by the registry contract in test_plugins.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from interplay.cli.app import app  # noqa: E402
from interplay.kb import load_kb  # noqa: E402
from interplay.validators import experiment  # noqa: E402
from interplay.validators.data import ADULT_FILES, DataError, SyntheticFactors, adult, default_adult_dir  # noqa: E402
from interplay.validators.experiment import (  # noqa: E402
    MissingObservable,
    ValidationConfig,
    measure_seed,
    run_validation,
    summarize,
)
from interplay.validators.registry import DEFENSES, RISKS, UnregisteredPair  # noqa: E402
from interplay.validators.risks.discrimination import Discrimination  # noqa: E402
from interplay.validators.settings import DEFAULT_SEEDS, default_settings, load_task  # noqa: E402
from interplay.validators.stats import direction, paired_effect  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402
from interplay.validators.training import TrainSpec  # noqa: E402
from interplay.verdicts import validation_judge, verdict  # noqa: E402

KB = load_kb()
# The cells whose documents the tests below read: the intended ones and a few whose raw metrics they check.
CELLS = [
    ("adversarial-training", "evasion"),
    ("differential-privacy", "membership-inference"),
    ("group-fairness", "discrimination"),
    ("group-fairness", "membership-inference"),
    ("group-fairness", "attribute-inference"),
    ("adversarial-training", "discrimination"),
    ("differential-privacy", "evasion"),
]
# Smaller than --quick so that these cells run in well under a minute of CPU (DP-SGD learns less here).
TINY = replace(
    default_settings("synthetic"), n_train=1000, synthetic=SyntheticFactors(n_train=1000), train=TrainSpec(epochs=10)
)
runner = CliRunner()


def config(defense: str, risk: str, settings=TINY) -> ValidationConfig:
    return ValidationConfig(defense, risk, settings, tuple(KB.defenses[defense].targets))


@pytest.fixture(scope="module")
def cell_docs(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("store") / "cells.sqlite")
    return {(d, r): run_validation(config(d, r), 2, validation_judge("increase"), store) for d, r in CELLS}


def test_dp_reaches_its_privacy_budget(cell_docs):
    doc = cell_docs[("differential-privacy", "membership-inference")]
    assert 0 < doc["epsilon"] <= TINY.params_for(DEFENSES["differential-privacy"]).epsilon + 1e-6
    assert doc["params"]["differential-privacy"]["epsilon"] == 2.0


@pytest.mark.parametrize(
    "defense,target",
    [
        ("adversarial-training", "evasion"),
        ("differential-privacy", "membership-inference"),
        ("group-fairness", "discrimination"),
    ],
)
def test_intended_defenses_lower_their_own_risk_on_every_seed(cell_docs, defense, target):
    doc = cell_docs[(defense, target)]
    assert doc["effect"]["defended"] < doc["effect"]["baseline"]
    assert doc["effectiveness"][target]["difference"] == doc["effect"]["difference"]


def test_raw_metrics_are_reported_per_risk(cell_docs):
    mia = cell_docs[("group-fairness", "membership-inference")]["raw"]["baseline"]
    assert {"loss_auc", "calibrated_auc", "loss_tpr_at_1pct_fpr", "calibrated_tpr_at_1pct_fpr"} <= set(mia)
    assert mia["auc"] == mia["rmia_auc"]  # the primary attack, fixed in advance
    assert {"loss_tpr_at_0.1pct_fpr", "calibrated_auc_s0", "calibrated_auc_s1"} <= set(mia)
    ai = cell_docs[("group-fairness", "attribute-inference")]["raw"]["baseline"]
    assert ai["auc_advantage"] == pytest.approx(ai["attack_auc"] - ai["imputation_auc"])
    disc = cell_docs[("adversarial-training", "discrimination")]["raw"]["baseline"]
    assert {"demographic_parity_difference", "equalized_odds_difference", "accuracy_gap"} <= set(disc)
    assert disc["robust_accuracy_gap"] == pytest.approx(
        abs(disc["robust_accuracy_majority"] - disc["robust_accuracy_minority"])
    )
    assert disc["robust_accuracy_minority"] <= disc["accuracy_minority"]
    ev = cell_docs[("differential-privacy", "evasion")]["raw"]["baseline"]
    assert 0 < ev["attack_success_rate"] <= 1 and ev["eps"] == TINY.params_for(RISKS["evasion"]).eps == 0.25


def test_same_seed_same_metrics():
    cfg = config("differential-privacy", "attribute-inference")
    a, b = measure_seed(cfg, 3), measure_seed(cfg, 3)
    a.pop("runtime_s"), b.pop("runtime_s")
    assert a == b
    c = measure_seed(cfg, 4)
    assert c["baseline"]["risks"] != a["baseline"]["risks"]


def test_batched_fetch_yields_the_batches_of_a_plain_tensor_dataset():
    """fit's loader fetches a batch by indexing; the batches and the generator draws are those of a plain
    TensorDataset with default collation, shuffled or Poisson-sampled by Opacus (empty batches included)."""
    from opacus.data_loader import DPDataLoader
    from torch.utils.data import DataLoader, TensorDataset

    from interplay.validators.training import BatchedTensors, as_batch

    x, y, s = torch.randn(50, 3), torch.randint(0, 2, (50,)), torch.randint(0, 2, (50,))

    def loaders(wrap):
        plain = DataLoader(
            TensorDataset(x, y, s), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1)
        )
        batched = DataLoader(
            BatchedTensors(x, y, s),
            batch_size=8,
            shuffle=True,
            generator=torch.Generator().manual_seed(1),
            collate_fn=as_batch,
        )
        return wrap(plain), wrap(batched)

    for wrap in (lambda loader: loader, DPDataLoader.from_data_loader):
        plain, batched = loaders(wrap)
        for _ in range(2):
            pairs = list(zip(plain, batched, strict=True))
            assert len(pairs) == len(plain)
            for a, b in pairs:
                assert len(a) == len(b) == 3
                for u, v in zip(a, b, strict=True):
                    assert u.dtype == v.dtype and torch.equal(u, v)
    empty = BatchedTensors(x, y, s).__getitems__([])
    assert [tuple(t.shape) for t in empty] == [(0, 3), (0,), (0,)]


def test_store_resumes_an_interrupted_run_and_reruns_nothing_finished(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "r.sqlite")
    cfg = config("group-fairness", "discrimination")
    calls = []
    real = experiment.measure_seed
    monkeypatch.setattr(experiment, "measure_seed", lambda c, s: calls.append(s) or real(c, s))

    def interrupt(seed, cached):
        if seed == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_validation(cfg, 4, validation_judge("decrease"), store, on_seed=interrupt)
    assert calls == [0, 1] and set(store.runs(cfg.hash())) == {0, 1}
    calls.clear()
    first = run_validation(cfg, 4, validation_judge("decrease"), store)
    assert calls == [2, 3]
    calls.clear()
    again = run_validation(cfg, 4, validation_judge("decrease"), store)
    assert calls == [] and again["effect"] == first["effect"]
    assert [v["config_hash"] for v in store.validations()] == [cfg.hash()]
    assert config("group-fairness", "discrimination", TINY.with_params("group-fairness", lam=2.0)).hash() != cfg.hash()


def test_a_defense_that_lowers_one_of_its_targets_is_effective_and_one_that_lowers_none_is_not():
    cfg = config("differential-privacy", "evasion")
    assert set(cfg.measured_targets) == {"membership-inference", "data-reconstruction"}

    def records(mia_drop):
        def arm(shift, s):
            risks = {"evasion": 0.3, "membership-inference": 0.6 - shift, "data-reconstruction": 0.4}
            return {
                "utility": 0.9,
                "metadata": {},
                "risks": {k: {"score": v + 0.001 * s, "raw": {}} for k, v in risks.items()},
            }

        return [
            {"seed": s, "baseline": arm(0, s), "defended": arm(mia_drop + 0.002 * s, s), "runtime_s": 0.0}
            for s in range(4)
        ]

    works = validation_judge("increase")(summarize(cfg, records(0.05), 0.0))
    assert works["effectiveness"]["membership-inference"]["observed"] == "decrease"
    assert works["effectiveness"]["data-reconstruction"]["observed"] == "none"
    assert works["defense_effective"] is True
    fails = validation_judge("increase")(summarize(cfg, records(0.0), 0.0))
    assert fails["defense_effective"] is False and fails["verdict"] == "inconclusive"


def test_unregistered_pair_and_unknown_dataset(monkeypatch):
    monkeypatch.delitem(RISKS, "evasion")
    with pytest.raises(UnregisteredPair, match="no validator plugin for risk 'evasion'"):
        ValidationConfig("adversarial-training", "evasion", TINY)
    with pytest.raises(DataError, match="unknown dataset"):
        default_settings("cifar")


def test_a_probe_needing_an_absent_observable_is_refused(monkeypatch):
    class Blind(Discrimination):
        requires = ("watermark_key",)

    monkeypatch.setitem(RISKS, "discrimination", Blind)
    with pytest.raises(MissingObservable, match="watermark_key"):
        measure_seed(config("group-fairness", "discrimination"), 0)


def test_synthetic_factors_control_the_data():
    f = SyntheticFactors(n_train=1500, n_attributes=12, minority_frac=0.3)
    task = load_task(replace(TINY, n_train=1500, synthetic=f), 0)
    assert task.train.x.shape == (1500, 12) and len(task.test) == len(task.aux) == 1500
    assert 0.25 < task.train.s.float().mean() < 0.35
    rate = [task.train.y[task.train.s == g].float().mean() for g in (0, 1)]
    assert rate[0] - rate[1] > 0.1  # the sensitive attribute shifts the base rate


def test_digits_task_is_an_image_task():
    task = load_task(default_settings("digits", "quick"), 0)
    assert task.train.x.shape[1:] == (1, 8, 8) and task.n_classes == 10 and task.bounds == (0.0, 1.0)


@pytest.mark.skipif(not all((default_adult_dir() / f).is_file() for f in ADULT_FILES), reason="no Adult files")
def test_adult_loads_with_sex_as_the_sensitive_attribute():
    task = adult(500, 0)
    assert len(task.train) == 500 and task.n_classes == 2
    assert 0.2 < task.train.s.float().mean() < 0.45  # about a third of Adult is female


def test_missing_adult_names_what_to_download(tmp_path):
    with pytest.raises(DataError, match="adult.data"):
        adult(500, 0, tmp_path)


def test_paired_statistics_and_direction():
    e = paired_effect([0.50, 0.52, 0.51, 0.53], [0.60, 0.61, 0.62, 0.62])
    assert e.difference == pytest.approx(0.0975) and e.p_value < 0.01 and e.ci95[0] > 0
    assert direction(e, 0.01) == "increase" and direction(e, 0.2) == "none"
    assert direction(paired_effect([0.5, 0.6], [0.5, 0.6]), 0.01) == "none"


@pytest.mark.parametrize(
    "prediction,observed,ci,effective,expected",
    [
        ("increase", "increase", (0.02, 0.05), True, "confirmed"),
        ("increase", "decrease", (-0.05, -0.02), True, "refuted"),
        ("increase", "none", (-0.03, 0.005), True, "refuted"),  # the CI rules out a real increase
        ("increase", "none", (-0.03, 0.04), True, "inconclusive"),  # too wide to say
        ("none", "none", (-0.005, 0.005), True, "confirmed"),
        ("none", "none", (-0.05, 0.05), True, "inconclusive"),
        ("none", "increase", (0.02, 0.05), True, "refuted"),
        ("decrease", "decrease", (-0.05, -0.02), False, "inconclusive"),  # the defense did not work
        ("ambiguous", "decrease", (-0.05, -0.02), True, "inconclusive"),
        ("decrease", "decrease", (-0.05, -0.02), None, "confirmed"),  # no registered target to check
    ],
)
def test_verdict_rule(prediction, observed, ci, effective, expected):
    assert verdict(prediction, observed, ci, 0.01, effective) == expected


@pytest.mark.parametrize(
    "args,message",
    [
        (["at", "evasion", "--dataset", "cifar"], "unknown dataset"),
        (["at", "evasion", "--seeds", "1"], "at least 2"),
        (["adversarial-trainin", "evasion"], "did you mean"),
        (["group-fairness", "discrimination", "--dataset", "digits", "--quick"], "binary task"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, args, message):
    result = runner.invoke(app, ["validate", *args, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_unregistered_pair_exits_2(tmp_path, monkeypatch):
    monkeypatch.delitem(RISKS, "evasion")
    result = runner.invoke(app, ["validate", "at", "evasion", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "no validator plugin" in result.output and "Traceback" not in result.output


def test_missing_adult_exits_2(tmp_path):
    result = runner.invoke(
        app,
        [
            "validate",
            "at",
            "evasion",
            "--dataset",
            "adult",
            "--data-path",
            str(tmp_path),
            "--store",
            str(tmp_path / "s.sqlite"),
        ],
    )
    assert result.exit_code == 2 and "adult.data" in result.output and "Traceback" not in result.output


def test_cli_json_document_and_results(tmp_path):
    store = str(tmp_path / "s.sqlite")
    result = runner.invoke(
        app, ["validate", "FD1", "discrimination", "--quick", "--seeds", "2", "--json", "--store", store]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {
        "defense",
        "risk",
        "prediction",
        "observed",
        "verdict",
        "effect",
        "defense_effective",
        "seeds",
        "dataset",
        "runtime_s",
        "utility",
        "raw",
        "settings",
    } <= set(doc)
    assert doc["defense"] == "group-fairness" and doc["dataset"] == "synthetic" and doc["seeds"] == 2
    assert {"metric", "baseline", "defended", "difference", "ci95", "p_value"} <= set(doc["effect"])
    listed = json.loads(runner.invoke(app, ["results", "--json", "--store", store]).stdout)
    assert [(r["defense"], r["risk"]) for r in listed] == [("group-fairness", "discrimination")]


def test_importing_the_kb_and_reasoner_does_not_import_torch():
    code = (
        "import sys, interplay, interplay.kb, interplay.interactions, interplay.cli.app; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize(
    "defense,risk",
    [
        ("adversarial-training", "evasion"),
        ("differential-privacy", "membership-inference"),
        ("group-fairness", "discrimination"),
    ],
)
def test_intended_cells_confirm_a_significant_decrease_at_full_size(tmp_path, defense, risk):
    cfg = config(defense, risk, default_settings("synthetic"))
    doc = run_validation(cfg, DEFAULT_SEEDS, validation_judge("decrease"), ResultStore(tmp_path / "s.sqlite"))
    assert doc["observed"] == "decrease" and doc["effect"]["p_value"] < 0.05
    assert doc["verdict"] == "confirmed" and doc["defense_effective"] is True


def test_adult_standardization_never_explodes_rare_categories():
    from interplay.validators.data import adult, default_adult_dir

    if not (default_adult_dir() / "adult.data").exists():
        pytest.skip("UCI Adult not present")
    task = adult(1000, 0)
    assert max(float(p.x.abs().max()) for p in (task.train, task.test, task.aux)) < 1e3


def test_members_are_the_records_the_deployment_trained_on(monkeypatch):
    """Outlier removal drops records: they are members of neither arm, so no probe can score them as members."""
    from interplay.validators.defenses.outlier_removal import OutlierRemoval
    from interplay.validators.risks.membership_inference import MembershipInference

    task = load_task(TINY, 0)
    trained_on = OutlierRemoval(TINY, task).deploy(task.train, 0).trained_on
    assert len(trained_on) == len(task.train) - round(0.1 * len(task.train))
    seen = []
    real = MembershipInference.measure
    monkeypatch.setattr(
        MembershipInference, "measure", lambda self, d, train, seed: seen.append(train) or real(self, d, train, seed)
    )
    measure_seed(config("outlier-removal", "membership-inference"), 0)
    kept = set(trained_on.row_keys())
    assert len(seen) == 2 and all(len(m) == len(trained_on) and set(m.row_keys()) <= kept for m in seen)
    assert task.train.shared_with([task.train]) is task.train  # nothing dropped: the split itself


@pytest.mark.parametrize(
    "defense,risk,expected",
    [
        ("fingerprinting", "evasion", False),  # the same model, and the attack reads no fingerprint
        ("fingerprinting", "model-ownership", True),  # the same model, but verification reads the fingerprint
        ("explanations", "attribute-inference", True),  # the attack reads the attributions
        ("group-fairness", "evasion", True),  # another model
    ],
)
def test_not_applicable_is_decided_from_the_models_and_the_observables(tmp_path, defense, risk, expected):
    doc = run_validation(config(defense, risk), 2, validation_judge("increase"), ResultStore(tmp_path / "s.sqlite"))
    assert doc["applicable"] is expected
    assert (doc["verdict"] == "not-applicable") is not expected


def test_evasion_attacks_the_records_every_model_classifies_correctly():
    from interplay.validators.defenses.base import DefensePlugin
    from interplay.validators.risks.evasion import Evasion
    from interplay.validators.training import logits

    task = load_task(TINY, 0)
    arms = {
        "baseline": DefensePlugin(TINY, task).deploy(task.train, 0),
        "defended": DEFENSES["adversarial-training"](TINY, task).deploy(task.train, 0),
    }
    probe = Evasion(TINY, task)
    probe.prepare(arms, 0)
    both = torch.stack([logits(d.model, task.test.x).argmax(1) == task.test.y for d in arms.values()]).all(0)
    for d in arms.values():
        raw = probe.measure(d, task.train, 0).raw
        assert raw["attacked_records"] == int(both.sum()) < len(task.test)
        assert 0 <= raw["transfer_success_rate"] <= 1 and raw["robust_accuracy"] <= raw["clean_accuracy"]
