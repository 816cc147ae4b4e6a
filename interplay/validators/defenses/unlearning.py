"""Machine unlearning: a service that honours deletion requests.

The service trains on its records with the plain recipe (the model before deletion), then deletes a share
``forget_frac`` of them, drawn at random with the seed (so the forgotten records are a function of the seed and the
training set alone), and deploys the model after deletion:

- ``exact``: retrained from scratch on the retained records, the guarantee of SISA (Bourtoule et al. 2021) with one
  shard; the deployed model is the plain recipe's on the retained records with the same seed.
- ``gradient-ascent``: the model before deletion, then ``ascent_epochs`` passes of gradient ascent on the forgotten
  records (the negated cross-entropy, the plain recipe's Adam at ``ascent_lr``), an approximate unlearning that
  costs a few steps instead of a retraining. Kept short a priori: the negated loss has no minimum.

What an adversary sees is both versions: the deployment adds the observable ``model_before_deletion`` and records
the deleted records in ``Deployment.forgotten``; ``trained_on`` is the retained records, so the membership probe's
primary score (members: the records every compared model trained on) keeps its meaning, on the retained records.

Membership of the deleted records (:mod:`~interplay.validators.risks.membership_inference`): in ``prepare`` the probe
takes the forgotten records from whichever compared deployment carries them and scores the same records on every arm,
the baseline included (a service that deleted nothing, where they are still members), against the same non-members.
It reports ``deleted_auc``, offline RMIA on the deployed model, and ``deleted_versions_auc``, the adversary who
queries the service before and after the deletion: RMIA on the model before deletion with the model after deletion,
which by the guarantee never saw those records, as its reference (on a service that released one version, the same
attack as ``deleted_auc``). The defense's effectiveness on its target, membership inference, is judged on
``deleted_auc`` (``target_metrics``): a deletion works when the deployed model no longer gives the deleted records
away. The two-version attack is a risk of the deletion itself, reported beside it (and declarable as a cell's metric).

Data reconstruction is not extended: its decoder learns from the adversary's own records what a model's outputs say
about a record, and learning what the difference between two versions says about deleted records would take shadow
services that delete (two trainings each) besides the decoder.

Defaults chosen a priori: ``exact`` (the guarantee that defines unlearning); 5% of the records deleted; gradient
ascent for 5 passes at the training's learning rate.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin, Deployment
from interplay.validators.deployment_cache import deploy
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, fit

FORGET_SALT = 48271  # separates the draw of the deletion requests from the other draws of a seed


class _Ascent(TrainingHooks):
    def loss(self, model, x, y, s):
        return -F.cross_entropy(model(x), y)


def forget_indices(n: int, frac: float, seed: int) -> np.ndarray:
    """The sorted indices of the ``frac`` of ``n`` training records deleted under ``seed`` (at least one, not all)."""
    k = min(max(1, round(frac * n)), n - 1)
    return np.sort(torch.randperm(n, generator=torch.Generator().manual_seed(seed + FORGET_SALT))[:k].numpy())


@dataclass(frozen=True)
class UnlearningParams(PluginParams):
    method: str = param(
        "exact", "how the deletion is honoured: retrain without the records, or gradient ascent on them",
        choices=("exact", "gradient-ascent"),
    )  # fmt: skip
    forget_frac: float = param(0.05, "share of the training records deleted", gt=0, lt=1)
    ascent_epochs: int = param(5, "gradient-ascent passes over the deleted records", ge=1, le=100)
    ascent_lr: float = param(1e-3, "gradient-ascent learning rate (Adam; the plain recipe's)", gt=0, le=1)


@register_defense("unlearning")
class Unlearning(DefensePlugin):
    """Machine unlearning: deploy the model after deleting some records; the model before is exposed too."""

    Params = UnlearningParams
    target_metrics = {"membership-inference": "deleted_auc"}

    def deploy(self, train: Split, seed: int) -> Deployment:
        p, plain = self.params, DefensePlugin(self.settings, self.task)
        gone = forget_indices(len(train), p.forget_frac, seed)
        forgotten, retained = train.take(gone), train.take(np.setdiff1d(np.arange(len(train)), gone))
        before = deploy(plain, train, seed).model  # the baseline arm's model: trained once per seed in a run
        metadata = {"method": p.method, "forget_frac": p.forget_frac, "forgotten": len(forgotten)}
        if p.method == "exact":
            after = deploy(plain, retained, seed).model
        else:
            spec = replace(self.settings.train, epochs=p.ascent_epochs, lr=p.ascent_lr)
            after = fit(copy.deepcopy(before), forgotten, spec, seed, _Ascent())
        deployment = self._deployment(after, retained, metadata)
        deployment.observables["model_before_deletion"] = before
        return replace(deployment, forgotten=forgotten)
