"""The attacks reported beside the evasion and model-ownership scores: query-limited black-box evasion (NES),
guided by released attributions; transfer from a surrogate extracted with and without a disclosed fingerprint;
and low-budget extraction that matches released attributions."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from interplay.validators.attacks import nes, pgd  # noqa: E402
from interplay.validators.defenses.explanations import Explainer  # noqa: E402
from interplay.validators.ownership import extract, input_attributions  # noqa: E402
from interplay.validators.risks.evasion import Evasion, attribution_prior  # noqa: E402
from interplay.validators.risks.model_ownership import ModelOwnership  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402
from interplay.validators.training import logits  # noqa: E402

TINY = default_settings("synthetic", "tiny")
EPS = 0.25


@pytest.fixture(scope="module")
def task(tiny_task):
    return tiny_task


@pytest.fixture(scope="module")
def deployments(tiny_deployments):
    return tiny_deployments


@pytest.fixture(scope="module")
def attacked(task, deployments):
    """The baseline model and up to 200 held-out records it classifies correctly."""
    model = deployments["baseline"].model
    correct = logits(model, task.test.x).argmax(1) == task.test.y
    return model, task.test.x[correct][:200], task.test.y[correct][:200]


def success(model, x, y) -> float:
    return (logits(model, x).argmax(1) != y).float().mean().item()


def test_nes_stays_in_the_ball_and_below_white_box_pgd(attacked):
    model, x, y = attacked
    adv = nes(model, x, y, EPS, 200, torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= EPS + 1e-6
    assert torch.equal(adv, nes(model, x, y, EPS, 200, torch.Generator().manual_seed(0)))  # deterministic per seed
    blackbox, white_box = success(model, adv, y), success(model, pgd(model, x, y, EPS, 10), y)
    assert 0 < blackbox <= white_box + 0.03
    assert success(model, nes(model, x, y, EPS, 63, torch.Generator().manual_seed(0)), y) < blackbox  # 3 steps, not 9
    assert torch.equal(nes(model, x, y, EPS, 10, torch.Generator().manual_seed(0)), x)  # too few for one step


def test_a_correct_gradient_prior_beats_plain_nes_at_a_small_budget(attacked):
    model, x, y = attacked

    def gradient(points):  # the true input gradient of the cross-entropy, one query per record
        points = points.clone().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(model(points), y, reduction="sum"), points)[0]

    plain = success(model, nes(model, x, y, EPS, 48, torch.Generator().manual_seed(0)), y)
    guided = success(model, nes(model, x, y, EPS, 48, torch.Generator().manual_seed(0), prior=gradient), y)
    assert guided > plain + 0.05
    assert guided >= success(model, pgd(model, x, y, EPS, 10), y) - 0.03  # an exact prior: white-box strength
    # a prior of the wrong sign is as good: nes measures the loss's slope along it
    flipped = nes(model, x, y, EPS, 48, torch.Generator().manual_seed(0), prior=lambda p: -gradient(p))
    assert success(model, flipped, y) == pytest.approx(guided, abs=0.02)


def test_the_attribution_prior_recovers_the_gradient_of_a_linear_model():
    torch.manual_seed(0)
    linear = torch.nn.Linear(20, 2).eval()
    x = torch.randn(50, 20)
    prior = attribution_prior(Explainer(linear, "integrated-gradients"))(x)
    target = linear(x).argmax(1)
    gradient = linear.weight[target].detach()  # Integrated Gradients of a linear logit: x * w exactly
    assert F.cosine_similarity(prior, gradient).mean() > 0.9
    assert F.cosine_similarity(Explainer(linear, "integrated-gradients")(x), gradient).mean() < 0.5


def test_evasion_reports_the_new_attacks_only_where_their_observable_is_released(task, deployments):
    probe = Evasion(TINY, task)
    probe.prepare(deployments, 0)
    raw = {arm: probe.measure(d, task.train, 0) for arm, d in deployments.items()}
    base = raw["baseline"]
    for m in raw.values():  # one model: the score and every shared attack agree
        assert m.score == base.score == m.raw["attack_success_rate"]
        for key in ("blackbox_success_rate", "surrogate_transfer_success_rate", "transfer_success_rate"):
            assert m.raw[key] == base.raw[key]
    assert set(raw["explanations"].raw) - set(base.raw) == {"blackbox_guided_success_rate"}
    assert set(raw["fingerprinting"].raw) - set(base.raw) == {"fingerprint_transfer_success_rate"}
    assert 0 < base.raw["blackbox_success_rate"] < raw["explanations"].raw["blackbox_guided_success_rate"]
    assert base.raw["blackbox_success_rate"] <= base.score + 0.05
    assert 0 < base.raw["surrogate_transfer_success_rate"] <= base.score + 0.05
    assert probe.measure(deployments["fingerprinting"], task.train, 0) == raw["fingerprinting"]  # deterministic


def test_low_budget_extraction_matches_released_attributions_only_when_they_are_released(task, deployments):
    probe = ModelOwnership(TINY, task)
    base = probe.measure(deployments["baseline"], task.train, 0).raw
    explained = probe.measure(deployments["explanations"], task.train, 0).raw
    assert "low_budget_guided_extraction_fidelity" not in base
    assert explained["low_budget_extraction_fidelity"] == base["low_budget_extraction_fidelity"] > 0.5
    assert 0.5 < explained["low_budget_guided_extraction_fidelity"] <= 1

    explainer = deployments["explanations"].observables["explanations"]
    queries, held_out = task.aux.take(slice(0, 100)), task.test.x[:200]
    released = explainer(held_out)

    def mismatch(model):
        return F.mse_loss(explainer.for_model(model)(held_out), released).item()

    spec = replace(TINY.train, epochs=40)  # as the probe trains them: the steps of extraction with all 600 records
    plain = extract(explainer.model, queries, task, spec, 3)
    guided = extract(explainer.model, queries, task, spec, 3, explainer(queries.x))
    assert mismatch(guided) < 0.8 * mismatch(plain)
    # the surrogate's stand-in is differentiable in its parameters, and for a linear model it is IG exactly
    linear = torch.nn.Linear(20, 2)
    target = linear(held_out).argmax(1)
    stand_in = input_attributions(linear, held_out, target)
    assert stand_in.requires_grad
    torch.testing.assert_close(stand_in.detach(), Explainer(linear.eval(), "integrated-gradients")(held_out))
