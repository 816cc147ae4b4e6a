"""Membership inference: offline RMIA with batched reference models, against the attacks reported beside it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.defenses.explanations import Explanations  # noqa: E402
from interplay.validators.defenses.outlier_removal import OutlierRemoval  # noqa: E402
from interplay.validators.deployment_cache import DeploymentCache  # noqa: E402
from interplay.validators.risks.membership_inference import MembershipInference, rmia_scores  # noqa: E402
from interplay.validators.settings import default_settings, load_task  # noqa: E402
from interplay.validators.training import TrainSpec  # noqa: E402

TINY = default_settings("synthetic", "tiny")


def _same_parameters(a, b) -> bool:
    return all(torch.allclose(p, q, rtol=0, atol=1e-6) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("defense", [DefensePlugin, Explanations])
def test_deploy_many_trains_the_models_deploy_would(defense):
    task = load_task(TINY, 0)
    plugin = defense(TINY, task)
    halves = [task.aux.take(slice(0, 300)), task.aux.take(slice(300, 600))]
    batched = plugin.deploy_many(halves, [3, 4])
    for data, seed, got in zip(halves, [3, 4], batched, strict=True):
        one = plugin.deploy(data, seed)
        assert _same_parameters(one.model, got.model)
        assert set(one.observables) == set(got.observables) and got.trained_on is data


def test_deploy_many_of_a_defense_that_alters_the_data_gives_the_models_deploy_gives():
    task = load_task(TINY, 0)
    plugin = OutlierRemoval(TINY, task)
    got = plugin.deploy_many([task.aux, task.aux], [3, 4])
    assert [len(d.trained_on) for d in got] == [len(task.aux) - round(0.1 * len(task.aux))] * 2
    assert _same_parameters(plugin.deploy(task.aux, 4).model, got[1].model)


def test_the_cache_trains_each_reference_once():
    task = load_task(TINY, 0)
    cache = DeploymentCache()
    plugin = DefensePlugin(TINY, task)
    first = cache.deploy_many(plugin, [task.aux, task.test], [1, 2])
    again = cache.deploy_many(plugin, [task.test, task.aux], [2, 1])
    assert (cache.misses, cache.hits) == (2, 2)
    assert _same_parameters(first[0].model, again[1].model) and first[0] is not again[1]


def test_rmia_ranks_a_record_by_how_much_better_the_target_fits_it_than_the_references():
    references = np.log(np.array([[0.5, 0.5, 0.9], [0.5, 0.7, 0.9]]))
    target = np.log(np.array([0.9, 0.9, 0.9]))
    scores = rmia_scores(target, references, a=0.3)
    assert scores[0] > scores[1] > scores[2]  # same target fit; references fit the records ever better
    assert rmia_scores(target, references, a=1.0)[2] == pytest.approx(0.0)  # a = 1: the references' mean alone


def test_rmia_beats_the_loss_attack_on_an_overfit_baseline():
    """The published behaviour (Zarifzadeh et al. 2024): reference calibration beats the loss threshold."""
    settings = replace(TINY, train=TrainSpec(epochs=40, batch_size=64, capacity="large"))
    aucs = []
    for seed in (0, 1):
        task = load_task(settings, seed)
        deployment = DefensePlugin(settings, task).deploy(task.train, seed)
        raw = MembershipInference(settings, task).measure(deployment, task.train, seed).raw
        aucs.append((raw["rmia_auc"], raw["loss_auc"]))
    rmia, loss = np.mean(aucs, 0)
    assert rmia > loss + 0.02, aucs
