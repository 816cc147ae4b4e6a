"""The data-sanitizing and ownership defenses (outlier removal, watermarking, fingerprinting) and the poisoning
and model-ownership probes: quick intended cells, raw metrics, determinism, the threat-model context, and the
shared ownership verification and triggers. Every pair's composition is covered by the registry contract."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from interplay.kb import load_kb  # noqa: E402
from interplay.validators.data import SyntheticFactors  # noqa: E402
from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.defenses.fingerprinting import Fingerprinting  # noqa: E402
from interplay.validators.defenses.watermarking import Watermarking  # noqa: E402
from interplay.validators.experiment import ValidationConfig, measure_seed, run_validation  # noqa: E402
from interplay.validators.models import build_model  # noqa: E402
from interplay.validators.ownership import extract, keys_of  # noqa: E402
from interplay.validators.params import ParamError  # noqa: E402
from interplay.validators.registry import overrides  # noqa: E402
from interplay.validators.risks.model_ownership import ModelOwnership  # noqa: E402
from interplay.validators.risks.poisoning import Poisoning  # noqa: E402
from interplay.validators.settings import default_settings, load_task  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402
from interplay.validators.triggers import make_trigger  # noqa: E402
from interplay.verdicts import validation_judge  # noqa: E402

KB = load_kb()
QUICK = default_settings("synthetic", "quick")
# Smaller still: the ownership probe's adversary with fewer queries, a smaller watermark and fingerprint.
TINY = replace(
    QUICK,
    n_train=600,
    synthetic=SyntheticFactors(n_train=600),
    train=replace(QUICK.train, epochs=5),
    overrides=(
        ("fingerprinting", "queries", 40),
        ("model-ownership", "queries", 300),
        ("watermarking", "key_frac", 0.033),
    ),
)


def with_context(settings, context):
    """``settings`` under the threat-model ``context``, as the API applies it."""
    return settings.with_overrides(overrides([], context))


# The verification tests use the default model (the medium MLP) with the quick epochs: the quick preset's small
# MLP is so smooth that its boundary points transfer to independent models as well as to surrogates.
VERIFY = replace(QUICK, train=replace(QUICK.train, capacity="medium"))


def config(defense: str, risk: str, settings=QUICK) -> ValidationConfig:
    return ValidationConfig(defense, risk, settings, tuple(KB.defenses[defense].targets))


@pytest.mark.parametrize(
    "defense,risk",
    [("outlier-removal", "poisoning"), ("watermarking", "model-ownership"), ("fingerprinting", "model-ownership")],
)
def test_quick_intended_cells_decrease(tmp_path, defense, risk):
    doc = run_validation(config(defense, risk), 3, validation_judge("decrease"), ResultStore(tmp_path / "s.sqlite"))
    assert doc["observed"] == "decrease" and doc["verdict"] == "confirmed" and doc["defense_effective"] is True


def test_ownership_raw_metrics(tmp_path):
    doc = run_validation(
        config("watermarking", "model-ownership", TINY),
        2,
        validation_judge("decrease"),
        ResultStore(tmp_path / "s.sqlite"),
    )
    raw, base = doc["raw"]["defended"], doc["raw"]["baseline"]
    assert raw["verifiable"] == 1 and raw["false_positive"] in (0, 0.5, 1)
    for route in ("extraction", "fine-tuning"):
        assert 0 <= raw[f"{route}_watermark_agreement"] <= 1 and raw[f"{route}_detected"] in (0, 0.5, 1)
        assert f"{route}_watermark_agreement" not in base and base[f"{route}_detected"] == 0
    assert "false_positive" not in base
    # undetected thefts count with their fidelity; the score is the mean over the two routes
    assert base["ownership_risk"] == pytest.approx((base["extraction_fidelity"] + base["fine-tuning_fidelity"]) / 2)
    assert base["ownership_risk"] > 0.5


def test_theft_context_selects_the_route_and_fine_tuning_changes_the_stolen_copy():
    only = with_context(TINY, {"theft": "extraction"})
    record = measure_seed(config("watermarking", "model-ownership", only), 0)
    raw = record["defended"]["risks"]["model-ownership"]["raw"]
    assert "extraction_fidelity" in raw and not any(k.startswith("fine-tuning") for k in raw)
    with pytest.raises(ParamError, match="fine-tuning"):
        with_context(TINY, {"theft": "copying"})
    task = load_task(TINY, 0)
    probe = ModelOwnership(TINY, task)
    victim = build_model(task.input_shape, task.n_classes, TINY.train.capacity)
    stolen = probe._steal("fine-tuning", victim, task.aux, 0)
    assert stolen is not victim
    assert any(not torch.equal(a, b) for a, b in zip(stolen.parameters(), victim.parameters(), strict=True))


def test_poisoning_raw_metrics_and_the_backdoor_works():
    record = measure_seed(config("outlier-removal", "poisoning"), 0)
    raw = record["baseline"]["risks"]["poisoning"]["raw"]
    assert raw["attack_success_rate"] > 0.5 and raw["clean_accuracy"] > 0.8 and raw["poison_frac"] == 0.05


def test_poisoning_target_is_measured_on_a_poisoned_retrain():
    """outlier-removal's effectiveness in another cell: the harness hands the probe a clean deployment."""
    record = measure_seed(config("outlier-removal", "evasion", TINY), 0)
    assert record["baseline"]["risks"]["poisoning"]["score"] > 0.5


@pytest.mark.parametrize(
    "defense,risk",
    [("watermarking", "model-ownership"), ("outlier-removal", "poisoning"), ("fingerprinting", "poisoning")],
)
def test_same_seed_same_metrics(defense, risk):
    cfg = config(defense, risk, TINY)
    a, b = measure_seed(cfg, 1), measure_seed(cfg, 1)
    a.pop("runtime_s"), b.pop("runtime_s")
    assert a == b


@pytest.fixture(scope="module")
def owned():
    """A watermarked and a fingerprinted model, an independent model (other data) and a surrogate of each."""
    task = load_task(VERIFY, 0)
    wm = Watermarking(VERIFY, task).deploy(task.train, 0)
    fp = Fingerprinting(VERIFY, task).deploy(task.train, 0)
    independent = DefensePlugin(VERIFY, task).deploy(task.aux, 1).model
    queries = task.aux.take(slice(0, 1000))
    return {
        "task": task,
        "wm": wm,
        "fp": fp,
        "independent": independent,
        "wm_surrogate": extract(wm.model, queries, task, VERIFY.train, 5),
        "fp_surrogate": extract(fp.model, queries, task, VERIFY.train, 5),
    }


@pytest.mark.parametrize("arm,observable", [("wm", "watermark_key"), ("fp", "fingerprint_queries")])
def test_a_marked_model_verifies_itself(owned, arm, observable):
    deployment = owned[arm]
    key = deployment.observables[observable]
    assert keys_of(deployment.observables) == [key] and len(key.y) > 0
    assert key.agreement(deployment.model) >= 0.95 and key.verifies(deployment.model)


def test_an_independent_model_does_not_verify_the_watermark(owned):
    key = owned["wm"].observables["watermark_key"]
    assert not key.verifies(owned["independent"]) and key.agreement(owned["independent"]) < key.threshold - 0.2


def test_the_fingerprint_separates_a_surrogate_from_an_independent_model(owned):
    """Conferrable points: the extracted surrogate matches more of them than an independent model."""
    key = owned["fp"].observables["fingerprint_queries"]
    assert key.agreement(owned["fp_surrogate"]) > key.agreement(owned["independent"])
    assert keys_of(DefensePlugin(VERIFY, owned["task"]).deploy(owned["task"].train, 0).observables) == []


def test_fingerprinting_does_not_change_the_model(owned):
    task = owned["task"]
    plain = DefensePlugin(VERIFY, task).deploy(task.train, 0).model
    fingerprinted = owned["fp"].model.state_dict()
    assert all(torch.equal(v, fingerprinted[k]) for k, v in plain.state_dict().items())


def test_triggers_differ_between_attacker_and_owner_and_spare_the_target_class():
    task = load_task(QUICK, 0)
    attacker, owner = Poisoning(QUICK, task).trigger, make_trigger(task, 0, 20180813, 1)
    assert set(attacker.positions) != set(owner.positions)
    triggered = attacker.triggered(task.test)
    assert (triggered.y == attacker.target).all() and len(triggered) == int((task.test.y != attacker.target).sum())
    assert (triggered.x[:, list(attacker.positions)] == attacker.value).all()
    digits = load_task(default_settings("digits", "quick"), 0)
    img = make_trigger(digits, 3, 0).stamp(digits.test.x[:2])
    assert (img[:, 0, 6:, 6:] == 1).all() and torch.equal(img[:, 0, :6], digits.test.x[:2, 0, :6])


def test_the_adversary_context_enters_the_settings_and_the_hash():
    accuser = with_context(QUICK, {"adversary": "malicious-accuser", "knows_defense": "yes"})
    assert accuser.params_for(ModelOwnership).adversary == "malicious-accuser" and with_context(QUICK, None) == QUICK
    assert config("watermarking", "model-ownership", accuser).hash() != config("watermarking", "model-ownership").hash()
    with pytest.raises(ParamError, match="malicious-suspect"):
        with_context(QUICK, {"adversary": "thief"})


def test_malicious_accuser_scores_the_false_claim():
    cfg = config("fingerprinting", "model-ownership", with_context(TINY, {"adversary": "malicious-accuser"}))
    raw = measure_seed(cfg, 0)["defended"]["risks"]["model-ownership"]["raw"]
    assert raw["ownership_risk"] <= raw["accuser_matching"] and raw["claim_accepted"] in (0.0, 1.0)


def test_outlier_removal_drops_the_stated_fraction():
    from interplay.validators.defenses.outlier_removal import OutlierRemoval

    task = load_task(TINY, 0)
    kept = OutlierRemoval(TINY, task).alter_training_data(task.train, 0)
    assert len(kept) == len(task.train) - round(0.1 * len(task.train))


@pytest.mark.slow
@pytest.mark.parametrize(
    "defense,risk",
    [("outlier-removal", "poisoning"), ("watermarking", "model-ownership"), ("fingerprinting", "model-ownership")],
)
def test_intended_cells_at_full_size(tmp_path, defense, risk):
    doc = run_validation(
        config(defense, risk, default_settings("synthetic")),
        8,
        validation_judge("decrease"),
        ResultStore(tmp_path / "s.sqlite"),
    )
    assert doc["observed"] == "decrease" and doc["effect"]["p_value"] < 0.05 and doc["verdict"] == "confirmed"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason=(
        "the default medium MLP memorizes the trigger set locally; surrogates extracted from in-distribution queries "
        "do not inherit it (trigger accuracy 0.33, threshold 0.5; see docs/validators.md)"
    ),
)
def test_the_watermark_does_not_survive_extraction_alone_at_full_size(tmp_path):
    settings = with_context(default_settings("synthetic"), {"theft": "extraction"})
    doc = run_validation(
        config("watermarking", "model-ownership", settings),
        8,
        validation_judge("decrease"),
        ResultStore(tmp_path / "s.sqlite"),
    )
    assert doc["observed"] == "decrease" and doc["effect"]["p_value"] < 0.05 and doc["verdict"] == "confirmed"


def test_cli_context_selects_the_adversary_and_rejects_unknown_values(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from interplay.cli.app import app
    from interplay.validators import settings

    monkeypatch.setattr(settings, "default_settings", lambda dataset, preset="default": TINY)
    store = ["--store", str(tmp_path / "s.sqlite")]
    runner = CliRunner()
    bad = runner.invoke(app, ["validate", "fingerprinting", "model-ownership", "-c", "adversary=thief", *store])
    assert bad.exit_code == 2 and "malicious-accuser" in bad.output and "Traceback" not in bad.output
    ok = runner.invoke(
        app,
        [
            "validate",
            "fingerprinting",
            "model-ownership",
            "--seeds",
            "2",
            "--json",
            "--context",
            "adversary=malicious-accuser",
            *store,
        ],
    )
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["params"]["model-ownership"]["adversary"] == "malicious-accuser"
    assert "claim_accepted" in doc["raw"]["baseline"]
