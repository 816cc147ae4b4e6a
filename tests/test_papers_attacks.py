"""The papers' attacks: the hard-label, output-only attribute-inference adversary (Aalmoes et al. 2022), outlier
removal by the auditor's own membership score (Carlini et al. 2022's onion effect) and extraction at a low query
budget given as a share of the full one (Khaled et al. 2022)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from interplay.validators.data import Split, Task  # noqa: E402
from interplay.validators.defenses.base import BASE_OBSERVABLES, DefensePlugin, Deployment  # noqa: E402
from interplay.validators.defenses.outlier_removal import OutlierRemoval  # noqa: E402
from interplay.validators.experiment import compare  # noqa: E402
from interplay.validators.params import ParamError  # noqa: E402
from interplay.validators.registry import overrides  # noqa: E402
from interplay.validators.risks.attribute_inference import AttributeInference  # noqa: E402
from interplay.validators.risks.membership_inference import (  # noqa: E402
    MembershipInference,
    rmia_scores,
    true_label_log_probs,
)
from interplay.validators.risks.model_ownership import ModelOwnership  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402
from interplay.validators.training import parameter_digest  # noqa: E402

TINY = default_settings("synthetic", "tiny")
LABEL = TINY.with_params("attribute-inference", outputs="label")


def _split(g: torch.Generator, n: int) -> Split:
    """Records whose first feature is the sensitive attribute plus noise and whose second is independent of it."""
    s = (torch.rand(n, generator=g) < 0.3).long()
    x = torch.stack([s + 0.3 * torch.randn(n, generator=g), torch.randn(n, generator=g)], 1)
    return Split(x, torch.randint(0, 2, (n,), generator=g), s)


@pytest.fixture(scope="module")
def attribute_task() -> Task:
    g = torch.Generator().manual_seed(0)
    return Task("toy", _split(g, 600), _split(g, 600), _split(g, 600), 2, (2,))


def _linear(column: int, scale: float) -> Deployment:
    """A fixed two-class model whose logit difference is ``scale`` times feature ``column`` (minus 0.5)."""
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[1, column] = scale
        model.bias.copy_(torch.tensor([0.0, -0.5 * scale]))
    return Deployment(model.eval(), dict.fromkeys(BASE_OBSERVABLES, True))


def test_the_label_only_adversary_beats_chance_only_where_the_predictions_carry_the_attribute(attribute_task):
    probe = AttributeInference(LABEL, attribute_task)
    leaking = probe.measure(_linear(0, 4.0), attribute_task.train, 0)
    blind = probe.measure(_linear(1, 4.0), attribute_task.train, 0)
    assert leaking.raw["imputation_auc"] == blind.raw["imputation_auc"] == 0.5  # it knows nothing of the record
    assert leaking.score == leaking.raw["attack_auc"] - 0.5 > 0.3
    assert abs(blind.score) < 0.06
    # it sees the predicted label only: confidences that change no prediction change nothing
    assert probe.measure(_linear(0, 40.0), attribute_task.train, 0) == leaking
    soft = AttributeInference(TINY, attribute_task).measure(_linear(0, 4.0), attribute_task.train, 0)
    assert soft.raw["imputation_auc"] != 0.5 and soft.raw["attack_auc"] > leaking.raw["attack_auc"]


def test_the_outputs_context_sets_the_attack_and_is_checked(kb):
    from interplay.interactions.graph import ContextError, full_context

    assert overrides([], {"outputs": "label"}) == (("attribute-inference", "outputs", "label"),)
    assert full_context(kb, {"outputs": "label"})["outputs"] == "label"  # a key the KB knows, for the reasoner too
    with pytest.raises(ParamError, match="logits, label"):
        overrides([], {"outputs": "confidences"})
    with pytest.raises(ContextError, match="logits, label"):
        full_context(kb, {"outputs": "confidences"})


def _onion(task: Task, frac: float = 0.1) -> OutlierRemoval:
    return OutlierRemoval(TINY.with_params("outlier-removal", criterion="membership", frac=frac), task)


def test_onion_removal_leaves_the_initialisation_as_it_was_and_drops_the_most_exposed_records(tiny_task):
    train = tiny_task.train
    baseline = DefensePlugin(TINY, tiny_task).deploy(train, 0)
    kept_all = _onion(tiny_task, 0.0).deploy(train, 0)
    assert parameter_digest(kept_all.model) == parameter_digest(baseline.model)  # the auditor's runs left no trace
    defense = _onion(tiny_task)
    onion = defense.deploy(train, 0)
    kept = set(onion.trained_on.row_keys())
    dropped = np.array([i for i, k in enumerate(train.row_keys()) if k not in kept])
    assert sorted(dropped) == sorted(defense.membership_exposure(train, 0).argsort()[-60:])
    # the records the auditor drops are exposed on the deployed baseline too, whose seed the auditor never used
    references = MembershipInference(TINY, tiny_task)._references(baseline, 0)
    scored = rmia_scores(
        true_label_log_probs(baseline.model, train.x, train.y),
        np.stack([true_label_log_probs(m, train.x, train.y) for m in references]),
        0.3,
    )
    retained = np.setdiff1d(np.arange(len(train)), dropped)
    assert scored[dropped].mean() > scored[retained].mean() + 0.5 * scored.std()


def test_the_membership_probe_attacks_both_arms_on_the_retained_records(tiny_task):
    deployments = {"baseline": DefensePlugin(TINY, tiny_task).deploy(tiny_task.train, 0)}
    deployments["outlier-removal"] = _onion(tiny_task).deploy(tiny_task.train, 0)
    seen = []
    probe = MembershipInference(TINY, tiny_task)
    real = probe.measure
    probe.measure = lambda d, members, seed: seen.append(members) or real(d, members, seed)  # type: ignore[method-assign]
    result = compare(probe, deployments, tiny_task.train, 0)
    assert len(seen) == 2 and all(m.row_keys() == deployments["outlier-removal"].trained_on.row_keys() for m in seen)
    assert {"tpr_at_1pct_fpr", "auc"} <= set(result["baseline"].raw) & set(result["outlier-removal"].raw)


def test_low_budget_extraction_takes_its_share_of_the_query_budget(tiny_task, tiny_deployments):
    def raw(share: float) -> dict:
        s = TINY.with_params("model-ownership", theft="extraction", low_budget_share=share)
        return ModelOwnership(s, tiny_task).measure(tiny_deployments["baseline"], tiny_task.train, 0).raw

    small, full = raw(0.02), raw(1.0)
    assert (small["low_budget_queries"], full["low_budget_queries"]) == (12, 600)  # of min(1000, 600 aux records)
    assert small["low_budget_extraction_fidelity"] < full["low_budget_extraction_fidelity"] - 0.02
    assert "low_budget_extraction_fidelity" not in raw(0.0)
    with pytest.raises(ParamError, match="outside the domain"):
        overrides([("model-ownership", "low_budget_share", "1.5")])
