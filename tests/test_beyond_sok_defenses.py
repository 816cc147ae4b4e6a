"""The eight defenses beyond the SoK's: each plugin does what its technique does (tiny sizes)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.defenses.data_augmentation import DataAugmentation, Mixup  # noqa: E402
from interplay.validators.defenses.distillation import Distillation, SoftLabels  # noqa: E402
from interplay.validators.defenses.dropout import Dropout  # noqa: E402
from interplay.validators.defenses.label_smoothing import LabelSmoothing  # noqa: E402
from interplay.validators.defenses.pruning import Pruning, weight_layers  # noqa: E402
from interplay.validators.defenses.quantization import Quantization, QuantizedInput  # noqa: E402
from interplay.validators.defenses.unlearning import Unlearning  # noqa: E402
from interplay.validators.defenses.weight_decay import WeightDecay  # noqa: E402
from interplay.validators.deployment_cache import sharing_deployments  # noqa: E402
from interplay.validators.experiment import ValidationConfig, compare, summarize  # noqa: E402
from interplay.validators.models import register_factory  # noqa: E402
from interplay.validators.needs import ProbeUnsupported  # noqa: E402
from interplay.validators.risks.membership_inference import MembershipInference  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402
from interplay.validators.training import full_steps, logits  # noqa: E402

TINY = default_settings("synthetic", "tiny")


@pytest.fixture(scope="module")
def plain(tiny_task):
    """The plain recipe's deployment on the tiny task, seed 0."""
    return DefensePlugin(TINY, tiny_task).deploy(tiny_task.train, 0)


def _equal(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def _norm(model: nn.Module) -> float:
    return float(sum(p.detach().pow(2).sum() for p in model.parameters()).sqrt())


def test_pruning_removes_the_smallest_weights_and_keeps_them_at_zero_while_fine_tuning(tiny_task, plain):
    deployed = Pruning(TINY, tiny_task).deploy(tiny_task.train, 0)
    assert not any(name.endswith("_orig") for name, _ in deployed.model.named_parameters())  # pruning made permanent
    trained = torch.cat([m.weight.detach().flatten() for m in weight_layers(plain.model)])  # the model before pruning
    pruned = torch.zeros_like(trained, dtype=torch.bool)
    pruned[trained.abs().argsort()[: round(0.8 * len(trained))]] = True
    final = torch.cat([m.weight.detach().flatten() for m in weight_layers(deployed.model)])
    assert torch.equal(final == 0, pruned)  # exactly the smallest 80% are zero, and stayed zero
    assert deployed.metadata["sparsity_achieved"] == pytest.approx(0.8, abs=1e-3)
    assert not torch.allclose(final[~pruned], trained[~pruned])  # the surviving weights were fine-tuned


def test_quantization_leaves_at_most_2_to_the_bits_values_per_channel_and_stays_differentiable(tiny_task, plain):
    bits = 4
    deployed = Quantization(TINY.with_params("quantization", bits=bits), tiny_task).deploy(tiny_task.train, 0)
    layers = weight_layers(deployed.model)
    assert len(layers) == len(weight_layers(plain.model))
    assert all(len(row.unique()) <= 2**bits for m in layers for row in m.weight.detach().flatten(1))
    assert any(len(row.unique()) > 2**bits for m in weight_layers(plain.model) for row in m.weight.detach().flatten(1))
    inputs = [m for m in deployed.model.modules() if isinstance(m, QuantizedInput)]
    assert len(inputs) == len(layers)  # every layer's input is quantized
    x = tiny_task.test.x[:50].clone().requires_grad_(True)
    deployed.model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # straight-through gradients reach the input
    int8 = Quantization(TINY, tiny_task).deploy(tiny_task.train, 0).model
    agree = (logits(int8, tiny_task.test.x).argmax(1) == logits(plain.model, tiny_task.test.x).argmax(1)).float()
    assert agree.mean() > 0.95  # int8 is close to the float model
    first = weight_layers(int8)[0].weight.detach()
    steps = first / (first.abs().amax(1, keepdim=True) / 127)
    assert torch.allclose(steps, steps.round(), atol=1e-3)  # each weight an integer times its channel's scale


def test_the_distilled_student_learns_from_the_teachers_soft_labels_alone(tiny_task, plain):
    x, y = tiny_task.train.x[:64], tiny_task.train.y[:64]
    student = DefensePlugin(TINY, tiny_task).build()
    soft = SoftLabels(plain.model, 4.0, 0.0)
    assert soft.loss(student, x, y, None).item() == soft.loss(student, x, 1 - y, None).item()  # no labels used
    hard = SoftLabels(plain.model, 4.0, 0.5)
    assert hard.loss(student, x, y, None).item() != hard.loss(student, x, 1 - y, None).item()
    deployed = Distillation(TINY, tiny_task).deploy(tiny_task.train, 0)
    assert not _equal(deployed.model, plain.model) and deployed.metadata == {"temperature": 4.0, "alpha": 0.0}
    # The student tracks the teacher more closely than a model trained on the hard labels does.
    other = DefensePlugin(TINY, tiny_task).deploy(tiny_task.train, 1).model
    teacher = logits(plain.model, tiny_task.test.x).log_softmax(1)

    def gap(model):
        return F.kl_div(logits(model, tiny_task.test.x).log_softmax(1), teacher, log_target=True, reduction="batchmean")

    assert gap(deployed.model) < gap(other)


def test_label_smoothing_lowers_the_confidence_on_the_training_records(tiny_task, plain):
    smoothed = LabelSmoothing(TINY.with_params("label-smoothing", eps=0.3), tiny_task).deploy(tiny_task.train, 0)

    def confidence(model):
        return logits(model, tiny_task.train.x).softmax(1).amax(1).mean().item()

    assert confidence(smoothed.model) < confidence(plain.model)


def test_mixup_trains_on_mixed_pairs_of_records_and_labels(tiny_task, plain):
    x, y = tiny_task.train.x[:64], tiny_task.train.y[:64]
    model, mixup = plain.model, Mixup(0.2)
    torch.manual_seed(3)
    loss = mixup.loss(model, x, y, None)
    torch.manual_seed(3)
    lam, pair = mixup.beta.sample(), torch.randperm(len(y))
    target = lam * F.one_hot(y, 2) + (1 - lam) * F.one_hot(y[pair], 2)
    expected = F.cross_entropy(model(lam * x + (1 - lam) * x[pair]), target.float())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.item() != pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-3)
    deployed = DataAugmentation(TINY, tiny_task).deploy(tiny_task.train, 0)
    assert _equal(deployed.model, DataAugmentation(TINY, tiny_task).deploy(tiny_task.train, 0).model)  # seeded
    assert not _equal(deployed.model, plain.model)


@pytest.fixture(scope="module")
def unlearned(tiny_task):
    return {
        method: Unlearning(TINY.with_params("unlearning", method=method), tiny_task).deploy(tiny_task.train, 0)
        for method in ("exact", "gradient-ascent")
    }


def test_exact_unlearning_deploys_the_model_retrained_on_the_retained_records(tiny_task, plain, unlearned):
    d = unlearned["exact"]
    train = tiny_task.train
    assert len(d.forgotten) == round(0.05 * len(train)) and len(d.trained_on) + len(d.forgotten) == len(train)
    assert set(d.trained_on.row_keys()) | set(d.forgotten.row_keys()) == set(train.row_keys())
    assert not set(d.trained_on.row_keys()) & set(d.forgotten.row_keys())
    assert _equal(d.model, DefensePlugin(TINY, tiny_task).deploy(d.trained_on, 0).model)
    assert _equal(d.observables["model_before_deletion"], plain.model)  # the service before the deletion
    assert d.metadata["method"] == "exact" and d.metadata["forgotten"] == len(d.forgotten)
    # The deletion requests are a function of the seed and the training set.
    assert d.forgotten.row_keys() == unlearned["gradient-ascent"].forgotten.row_keys()
    assert Unlearning(TINY, tiny_task).deploy(train, 1).forgotten.row_keys() != d.forgotten.row_keys()


def test_in_a_run_the_model_before_deletion_is_the_baseline_arm_s_trained_once(tiny_task, plain):
    with sharing_deployments() as cache:
        baseline = cache.deploy(DefensePlugin(TINY, tiny_task), tiny_task.train, 0)
        d = cache.deploy(Unlearning(TINY, tiny_task), tiny_task.train, 0)
        assert (cache.misses, cache.hits) == (3, 1)  # the baseline, the unlearning service, its retrained model
    assert _equal(d.observables["model_before_deletion"], baseline.model) and _equal(baseline.model, plain.model)


def test_gradient_ascent_raises_the_loss_on_the_forgotten_records(unlearned):
    d = unlearned["gradient-ascent"]
    f = d.forgotten

    def loss(model):
        return F.cross_entropy(logits(model, f.x), f.y).item()

    assert loss(d.model) > loss(d.observables["model_before_deletion"]) + 0.05
    assert len(d.trained_on) + len(f) == 600


def test_the_membership_probe_scores_the_deleted_records_on_both_arms_with_both_versions(tiny_task, plain, unlearned):
    d = unlearned["exact"]
    probe = MembershipInference(TINY, tiny_task)
    measured = compare(probe, {"baseline": plain, "defended": d}, tiny_task.train, 0)
    assert probe.forgotten is d.forgotten and probe.state() is not None
    base, defended = measured["baseline"].raw, measured["defended"].raw
    assert {"deleted_auc", "deleted_versions_auc"} <= set(base) & set(defended)
    assert base["deleted_versions_auc"] == base["deleted_auc"]  # one version released: the same attack
    assert defended["deleted_versions_auc"] != defended["deleted_auc"]  # the model before deletion is read
    # The primary score keeps its meaning: members are the records both arms trained on (the retained ones).
    alone = MembershipInference(TINY, tiny_task).measure(plain, d.trained_on, 0)
    assert measured["baseline"].score == alone.score and "deleted_auc" not in alone.raw
    assert "model_before_deletion" in MembershipInference.observables_read("deleted_versions_auc")
    assert "model_before_deletion" not in MembershipInference.observables_read()


def _record(seed: int, scores: dict[str, tuple[float, float]], deleted: tuple[float, float]) -> dict:
    """A seed's record with each risk's (baseline, defended) score; membership also reports ``deleted_auc``."""
    record: dict = {"seed": seed, "runtime_s": 0.0}
    for i, arm in enumerate(("baseline", "defended")):
        risks = {risk: {"score": s[i], "raw": {}} for risk, s in scores.items()}
        risks["membership-inference"]["raw"]["deleted_auc"] = deleted[i]
        record[arm] = {"utility": 0.9, "metadata": {}, "model_digest": arm, "observables": ["logits"], "risks": risks}
    return record


def test_unlearning_is_judged_on_the_deleted_records_and_a_defense_without_targets_is_not_judged():
    # The primary score rises while the deleted records' membership falls: the latter decides.
    records = [
        _record(s, {"evasion": (0.5, 0.5), "membership-inference": (0.8, 0.85 + 0.01 * s)}, (0.7, 0.5 + 0.01 * s))
        for s in range(3)
    ]
    doc = summarize(ValidationConfig("unlearning", "evasion", TINY, ("membership-inference",)), records, 0.0)
    assert doc["effectiveness"]["membership-inference"]["metric"] == "deleted_auc"
    assert doc["effectiveness"]["membership-inference"]["observed"] == "decrease" and doc["defense_effective"] is True
    for slug in ("pruning", "quantization", "distillation", "label-smoothing", "data-augmentation", "dropout"):
        doc = summarize(ValidationConfig(slug, "evasion", TINY, ()), records, 0.0)
        assert doc["effectiveness"] == {} and doc["defense_effective"] is None


def test_dropout_adds_dropout_layers_that_are_off_in_the_deployed_model(tiny_task):
    deployed = Dropout(TINY, tiny_task).deploy(tiny_task.train, 0).model
    drops = [m for m in deployed.modules() if isinstance(m, nn.Dropout)]
    assert [m.p for m in drops] == [0.5, 0.5]  # one after each of the medium MLP's two hidden layers
    assert not deployed.training and not any(m.training for m in drops)
    x = tiny_task.test.x
    assert torch.equal(logits(deployed, x), logits(deployed, x))  # deterministic: dropout off
    digits = default_settings("digits", "tiny")
    from interplay.validators.settings import load_task

    cnn = Dropout(digits, load_task(digits, 0)).build()
    assert [m.p for m in cnn.modules() if isinstance(m, nn.Dropout)] == [0.25, 0.25]
    with pytest.raises(ProbeUnsupported, match="user's model"):
        Dropout(TINY.with_model(register_factory(_user_model)), tiny_task)


def _user_model(input_shape, n_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), n_classes))


def test_weight_decay_trains_with_adamw_and_lowers_the_parameter_norm(tiny_task, plain):
    plugin = WeightDecay(TINY, tiny_task)
    hooks = plugin.hooks()
    model = plugin.build()
    loader = [None] * 10  # ten batches per epoch
    _, optimizer, _ = hooks.prepare(model, torch.optim.Adam(model.parameters(), lr=1e-3), loader)
    assert isinstance(optimizer, torch.optim.AdamW)
    per_step = 0.025 / np.sqrt(10 * TINY.train.epochs)  # the normalized weight decay
    assert optimizer.param_groups[0]["weight_decay"] * 1e-3 == pytest.approx(per_step)
    deployed = plugin.deploy(tiny_task.train, 0)
    assert _norm(deployed.model) < _norm(plain.model)
    steps = full_steps(len(tiny_task.train), TINY.train.batch_size) * TINY.train.epochs  # full batches only
    assert deployed.metadata["weight_decay_per_step"] == pytest.approx(0.025 / np.sqrt(steps))


def test_a_combination_refuses_what_it_cannot_compose(tiny_task):
    from interplay.validators.combination import Combined, check_defenses

    for slug, step in [("pruning", "after_training"), ("dropout", "build"), ("unlearning", "deploy")]:
        with pytest.raises(ProbeUnsupported, match=step):
            check_defenses(slug, "differential-privacy")
    check_defenses("label-smoothing", "differential-privacy")  # a loss and an optimizer compose
    with pytest.raises(ProbeUnsupported, match="both replace the optimizer"):
        Combined(TINY, tiny_task, "weight-decay", "differential-privacy")
