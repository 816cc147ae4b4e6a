"""Explanations (Captum attributions) and the probes that read them: data reconstruction and distribution
inference, with its batched shadow training."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from interplay.kb import load_kb  # noqa: E402
from interplay.validators import settings  # noqa: E402
from interplay.validators.batched import train_batched  # noqa: E402
from interplay.validators.defenses.explanations import METHODS, Explainer  # noqa: E402
from interplay.validators.experiment import ValidationConfig, run_validation  # noqa: E402
from interplay.validators.models import build_model  # noqa: E402
from interplay.validators.risks.data_reconstruction import DataReconstruction  # noqa: E402
from interplay.validators.risks.distribution_inference import DistributionInference  # noqa: E402
from interplay.validators.settings import default_settings, load_task  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402
from interplay.validators.training import TrainingHooks, TrainSpec, fit, seed_everything  # noqa: E402
from interplay.verdicts import validation_judge  # noqa: E402

KB = load_kb()
TINY = default_settings("synthetic", "tiny")
runner = CliRunner()


@pytest.fixture(scope="module")
def task(tiny_task):
    return tiny_task


@pytest.fixture(scope="module")
def deployments(tiny_deployments):
    return {k: tiny_deployments[k] for k in ("baseline", "explanations")}


def test_batched_shadow_training_matches_sequential_training(task):
    spec = TrainSpec(epochs=3, batch_size=32, capacity="small")
    datasets = [task.aux.take(slice(i * 50, i * 50 + 100)) for i in range(3)]
    batched = train_batched(datasets, [5, 6, 7], task.input_shape, task.n_classes, spec)
    for data, seed, model in zip(datasets, [5, 6, 7], batched, strict=True):
        seed_everything(seed)
        reference = fit(build_model(task.input_shape, task.n_classes, spec.capacity), data, spec, seed, TrainingHooks())
        for a, b in zip(reference.parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_explanations_release_attributions_of_the_baseline_model(task, deployments):
    base, expl = deployments["baseline"], deployments["explanations"]
    for a, b in zip(base.model.parameters(), expl.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the model is trained exactly as the baseline
    assert "explanations" not in base.observables
    x = task.test.x[:20]
    for method in METHODS:
        attributions = Explainer(expl.model, method)(x)
        assert attributions.shape == x.shape and torch.isfinite(attributions).all()
    # Integrated Gradients from a zero baseline: attributions sum to the target logit's change (completeness).
    out = expl.model(x).detach()
    target = out.argmax(1)
    gap = out.gather(1, target[:, None])[:, 0] - expl.model(torch.zeros_like(x)).detach()[:, target].diagonal()
    ig = expl.observables["explanations"](x)
    torch.testing.assert_close(ig.sum(1), gap, atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match="unknown explanation method"):
        Explainer(expl.model, "lime")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_the_digits_cnn_in_deterministic_mode(method):
    seed_everything(0)  # deterministic algorithms on: DeepLift's max-unpooling must still run
    cnn = build_model((1, 8, 8), 10, "small")
    x = load_task(default_settings("digits", "quick"), 0).test.x[:4]
    assert Explainer(cnn, method)(x).shape == x.shape and torch.are_deterministic_algorithms_enabled()


def test_data_reconstruction_scores_the_decoder_and_uses_attributions_when_released(task, deployments):
    probe = DataReconstruction(TINY, task)
    base = probe.measure(deployments["baseline"], task.train, 0)
    assert {"reconstruction_score", "mse_members", "mse_held_out", "score_held_out"} <= set(base.raw)
    assert base.score == base.raw["reconstruction_score"] < 1 and base.raw["mse_members"] > 0
    assert probe.measure(deployments["baseline"], task.train, 0) == base  # deterministic per seed
    assert probe.measure(deployments["explanations"], task.train, 0).score > base.score + 0.1


def test_distribution_inference_scores_the_auc_and_reports_the_accuracy(task, deployments):
    probe = DistributionInference(TINY, task)
    for d in deployments.values():
        m = probe.measure(d, task.train, 0)
        assert 0 <= m.score <= 1 and m.score == m.raw["auc"] and 0 <= m.raw["distinguishing_accuracy"] <= 1
        assert 0 <= m.raw["auc"] <= 1 and m.raw["subset_size"] > 0
    assert len(probe._trained) == 1  # the shadows are trained once for both deployments


@pytest.mark.slow
@pytest.mark.parametrize(
    "defense,risk,expected",
    [
        pytest.param(
            "differential-privacy",
            "data-reconstruction",
            "decrease",
            marks=pytest.mark.xfail(
                strict=True,
                reason="at the default size DP-SGD lowers the score by 0.0086 (p = 0.03), under the "
                "probe's minimum effect of 0.01: the decoder recovers held-out records as well as members "
                "(0.126 vs 0.125), "
                "population-level inversion that DP does not protect",
            ),
        ),
        ("explanations", "data-reconstruction", "increase"),
    ],
)
def test_data_reconstruction_cells_at_full_size(tmp_path, defense, risk, expected):
    cfg = ValidationConfig(defense, risk, default_settings("synthetic"), tuple(KB.defenses[defense].targets))
    doc = run_validation(cfg, settings.DEFAULT_SEEDS, validation_judge("increase"), ResultStore(tmp_path / "s.sqlite"))
    assert doc["observed"] == expected and doc["effect"]["p_value"] < 0.05


def test_explanations_are_not_judged_on_a_target_they_do_not_lower():
    from interplay.validators.experiment import ValidationConfig
    from interplay.validators.settings import default_settings

    s = default_settings("synthetic", "quick")
    assert ValidationConfig("explanations", "evasion", s, ("discrimination",)).measured_targets == ()
    assert ValidationConfig("group-fairness", "evasion", s, ("discrimination",)).measured_targets == ("discrimination",)
