"""Batched training (:mod:`interplay.validators.batched`): a model's result does not depend on the batch it was trained
in (bit for bit: the MLP's batched products, the CNN's loop, DP-SGD's padded batches), each recipe matches its
one-model path (``fit`` with the defense's hooks, Opacus for DP-SGD), DP-SGD's privacy accounting is Opacus', batched
PGD is per-model PGD, and the memory rule bounds the batch."""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from opacus import PrivacyEngine  # noqa: E402

from interplay.validators import batched, experiment  # noqa: E402
from interplay.validators.attacks import pgd, pgd_many  # noqa: E402
from interplay.validators.batched import PLAIN, Stack, models_per_batch  # noqa: E402
from interplay.validators.data import Split  # noqa: E402
from interplay.validators.defenses.adversarial_training import AdversarialTraining  # noqa: E402
from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.defenses.differential_privacy import (  # noqa: E402
    DifferentialPrivacy,
    _OpacusHooks,
    clipped_sums_mlp,
    clipped_sums_vmap,
)
from interplay.validators.experiment import ValidationConfig  # noqa: E402
from interplay.validators.models import build_model  # noqa: E402
from interplay.validators.risks.membership_inference import MembershipInference  # noqa: E402
from interplay.validators.settings import default_settings, load_task  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402
from interplay.validators.training import TrainingHooks, TrainSpec, fit, seed_everything  # noqa: E402
from interplay.verdicts import validation_judge  # noqa: E402

TINY = default_settings("synthetic", "tiny")
DEFENSES = {"plain": DefensePlugin, "adversarial": AdversarialTraining, "dp-sgd": DifferentialPrivacy}
SEEDS = [11, 12, 13, 14, 15, 16, 17, 18]


def _max_difference(a, b) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.fixture(scope="module")
def task():
    return load_task(TINY, 0)


@pytest.fixture(scope="module")
def halves(task):
    """Eight training sets of one size that differ (each seed trains on its own)."""
    both = (task.train, task.aux)
    data = Split(*(torch.cat([getattr(d, f) for d in both]) for f in ("x", "y", "s")))
    g = torch.Generator().manual_seed(0)
    return [data.take(torch.randperm(len(data), generator=g)[:400].sort().values) for _ in SEEDS]


@pytest.mark.parametrize("recipe", DEFENSES)
def test_a_seed_trained_alone_is_the_seed_trained_in_a_batch_of_eight(recipe, task, halves):
    """Bit for bit, so that records do not depend on how a run grouped its seeds (one process, worker processes,
    Ray's one-seed tasks, a resumed run)."""
    plugin = DEFENSES[recipe](TINY, task)
    together = plugin.deploy_many(halves, SEEDS)
    for i in (0, 5, 7):
        alone = plugin.deploy(halves[i], SEEDS[i])
        assert _max_difference(alone.model, together[i].model) == 0.0
        assert alone.metadata == together[i].metadata
    # the models differ (own data, own initialisation, own data order and noise): none is another's copy
    assert _max_difference(together[0].model, together[1].model) > 1e-2


@pytest.mark.parametrize("recipe", DEFENSES)
def test_a_cnn_trained_alone_is_the_cnn_trained_in_a_batch(recipe):
    """The built-in CNN (digits) runs through the stack's loop over models, DP-SGD's per-sample gradients through
    ``vmap``: neither depends on the batch either."""
    settings = default_settings("digits", "tiny")
    tasks = [load_task(settings, seed) for seed in (0, 1, 2)]
    plugin = DEFENSES[recipe](settings, tasks[0])
    trains = [t.train for t in tasks]
    together = plugin.deploy_many(trains, [0, 1, 2])
    assert Stack([together[0].model]).plan is None  # not an MLP: the loop, not the batched products
    alone = plugin.deploy(trains[2], 2)
    assert _max_difference(alone.model, together[2].model) == 0.0


@pytest.mark.parametrize("recipe", DEFENSES)
def test_the_batched_recipe_trains_what_the_one_model_path_trains(recipe, task):
    """K = 1 through the batched trainer against ``fit`` with the defense's hooks (Opacus' PrivacyEngine for DP-SGD):
    the same batches, the same noise draws, the same updates, up to float rounding."""
    plugin = DEFENSES[recipe](TINY, task)
    batched_model = plugin.deploy(task.train, 3)
    with batched.one_by_one():
        reference = plugin.deploy(task.train, 3)
    assert _max_difference(batched_model.model, reference.model) < 1e-5
    assert batched_model.metadata == pytest.approx(reference.metadata)


def test_the_privacy_spent_is_what_opacus_privacy_engine_reports(task):
    """The epsilon a batched DP model reports equals Opacus' own accounting of the same training: PrivacyEngine's
    ``get_epsilon`` after DP-SGD through ``make_private`` (same noise multiplier, sample rate and steps)."""
    plugin = DifferentialPrivacy(TINY, task)
    deployment = plugin.deploy(task.train, 5)
    seed_everything(5)
    model = plugin.build()
    hooks = plugin.hooks()
    assert isinstance(hooks, _OpacusHooks) and isinstance(hooks.engine, PrivacyEngine)
    fit(model, task.train, TINY.train, 5, hooks)
    opacus_epsilon = hooks.engine.get_epsilon(plugin.params.delta)
    assert deployment.metadata["epsilon"] == pytest.approx(opacus_epsilon, rel=1e-9)
    assert 0.5 * plugin.params.epsilon < opacus_epsilon <= plugin.params.epsilon * 1.01  # the searched noise hits it
    assert deployment.metadata["noise_multiplier"] == hooks.engine.accountant.history[-1][0]


def test_a_model_whose_poisson_batch_is_empty_skips_that_step_as_opacus_does():
    """On 6 records in batches of 2 (sample rate 1/3) Poisson sampling draws empty batches; a model skips those steps
    (no noise, no update, no privacy spent), whatever the other models of its batch draw."""
    settings = replace(TINY, train=TrainSpec(epochs=3, batch_size=2))
    task = load_task(TINY, 0)
    tiny = task.train.take(slice(0, 6))
    plugin = DifferentialPrivacy(settings, task)
    seeds = list(range(6))
    together = plugin.deploy_many([tiny] * len(seeds), seeds)
    steps = {d.metadata["epsilon"] for d in together}
    assert len(steps) > 1  # some seeds skipped steps, others did not: they trained in different groups
    for i in (0, 3):
        with batched.one_by_one():
            reference = plugin.deploy(tiny, seeds[i])
        assert _max_difference(together[i].model, reference.model) < 1e-5
        assert together[i].metadata["epsilon"] == pytest.approx(reference.metadata["epsilon"])


def test_pgd_against_stacked_models_is_pgd_against_each(task):
    models = []
    for seed in range(4):
        seed_everything(seed)
        models.append(build_model(task.input_shape, task.n_classes, "medium"))
    stack = Stack(models)
    x = torch.stack([task.test.x[i * 50 : (i + 1) * 50] for i in range(4)])
    y = torch.stack([task.test.y[i * 50 : (i + 1) * 50] for i in range(4)])
    together = pgd_many(stack.frozen, x, y, 0.25, 5, (-1.0, 1.0))
    for k, model in enumerate(models):
        alone = pgd(model, x[k], y[k], 0.25, 5, (-1.0, 1.0))
        assert torch.allclose(together[k], alone, atol=1e-6)
    assert not torch.allclose(together[0], together[1])


@pytest.mark.parametrize("capacity", ["small", "medium"])
def test_ghost_clipping_equals_clipping_materialized_per_sample_gradients(task, capacity):
    models = []
    for seed in range(3):
        seed_everything(seed)
        models.append(build_model(task.input_shape, task.n_classes, capacity))
    stack = Stack(models)
    assert stack.plan is not None
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 40, *task.input_shape, generator=g), torch.randint(0, 2, (3, 40), generator=g)
    weight = torch.ones(3, 40)
    weight[1, 30:] = 0  # padding rows of a smaller batch
    for clip in (0.1, 1.0, 100.0):  # most, some and no records clipped
        ghost = clipped_sums_mlp(stack.plan, stack.params, x, y, weight, clip)
        materialized = clipped_sums_vmap(stack, x, y, weight, clip)
        assert ghost.keys() == materialized.keys()
        for name in ghost:
            assert torch.allclose(ghost[name], materialized[name], rtol=1e-4, atol=1e-6), (clip, name)


def test_the_memory_rule_bounds_the_batch_and_splitting_changes_nothing(task, halves, monkeypatch):
    model = build_model(task.input_shape, task.n_classes, "medium")
    spec = TINY.train
    one = batched.model_bytes(model, task.input_shape, 400, spec.batch_size, 0)
    assert models_per_batch(model, task.input_shape, 400, spec, PLAIN, budget=1) == 1
    assert models_per_batch(model, task.input_shape, 400, spec, PLAIN, budget=3 * one) == 3
    assert models_per_batch(model, task.input_shape, 400, spec, PLAIN, budget=1 << 50) == batched.MAX_MODELS
    wide = build_model(task.input_shape, task.n_classes, "xlarge")
    assert batched.model_bytes(wide, task.input_shape, 400, spec.batch_size, 3) > 10 * one  # per-sample gradients
    plugin = DefensePlugin(TINY, task)
    together = plugin.deploy_many(halves[:5], SEEDS[:5])
    monkeypatch.setattr(batched, "available_memory", lambda: int(2 * one / batched.MEMORY_SHARE))
    split = plugin.deploy_many(halves[:5], SEEDS[:5])  # in batches of 2, 2 and 1
    for a, b in zip(together, split, strict=True):
        assert _max_difference(a.model, b.model) == 0.0


def test_a_validation_trains_its_seeds_deployments_ahead_in_one_batch(task):
    """Before the seeds are measured one by one, their deployments (both arms) and the reference models the probe
    declares are trained together in the run's deployment cache, and the seeds then reuse them."""
    cfg = ValidationConfig("differential-privacy", "membership-inference", TINY, ())
    references = TINY.params_for(MembershipInference).reference_models
    with experiment.sharing_deployments() as cache:
        experiment._prefetch(cfg, [0, 1])
        trained = 2 * 2 * (1 + references)  # seeds x arms x (the deployment and its references)
        assert (cache.misses, cache.hits) == (trained, 0)
        experiment.measure_seed(cfg, 1)
        assert (cache.misses, cache.hits) == (trained, trained // 2)


def test_a_validation_in_this_process_prefetches_its_missing_seeds_and_one_by_one_does_not(monkeypatch, tmp_path):
    calls = []
    real = experiment._prefetch
    monkeypatch.setattr(experiment, "_prefetch", lambda cfg, seeds: calls.append(list(seeds)) or real(cfg, seeds))
    cfg = ValidationConfig("explanations", "discrimination", TINY, ())
    judge = validation_judge("increase")
    store = ResultStore(tmp_path / "store.sqlite")
    first = experiment.run_validation(cfg, 2, judge, store)
    experiment.run_validation(cfg, 3, judge, store)  # seeds 0 and 1 are stored: only seed 2 is trained ahead
    with batched.one_by_one():
        again = experiment.run_validation(cfg, 2, judge)
    assert calls == [[0, 1], [2]]
    for arm in ("baseline", "defended"):
        assert again["effect"][arm] == pytest.approx(first["effect"][arm], abs=1e-6)


class _CountingHooks(TrainingHooks):
    """The plain recipe, recording each step's batch size."""

    def __init__(self):
        self.sizes: list[int] = []

    def loss(self, model, x, y, s):
        self.sizes.append(len(y))
        return super().loss(model, x, y, s)


def test_every_step_takes_a_full_batch_and_both_loops_agree():
    """1800 records in batches of 256: seven full steps an epoch (the 8 left over wait for another epoch's order, never
    a step of their own), in ``fit`` and in the batched loop alike; fewer records than a batch: one step of all."""
    settings = default_settings("synthetic", "tiny")
    spec = TrainSpec(epochs=2, batch_size=256)
    task = load_task(replace(settings, n_train=1800, synthetic=replace(settings.synthetic, n_train=1800)), 0)
    data = task.train
    assert len(data) == 1800
    hooks = _CountingHooks()
    seed_everything(4)
    alone = fit(build_model((data.x.shape[1],), 2, "small"), data, spec, 4, hooks)
    assert hooks.sizes == [256] * 14
    seed_everything(4)
    together = build_model((data.x.shape[1],), 2, "small")
    PLAIN.train([together], [data], [4], [torch.get_rng_state()], spec)
    assert _max_difference(alone, together) < 1e-6
    few = _CountingHooks()
    seed_everything(4)
    fit(build_model((data.x.shape[1],), 2, "small"), data.take(slice(0, 100)), spec, 4, few)
    assert few.sizes == [100, 100]
