"""Adversarial training (Madry et al. 2018): minimise the loss on PGD examples inside the eps-ball."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from interplay.validators.attacks import pgd
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _PGDHooks(TrainingHooks):
    def __init__(self, eps: float, steps: int, bounds):
        self.eps, self.steps, self.bounds = eps, steps, bounds

    def loss(self, model, x, y, s):
        return F.cross_entropy(model(pgd(model, x, y, self.eps, self.steps, self.bounds)), y)

    def metadata(self) -> dict:
        return {"eps": self.eps, "pgd_steps": self.steps}


@dataclass(frozen=True)
class AdversarialTrainingParams:
    eps: float = param(
        0.25, "L-infinity budget of the training attack, in input units (standardized features or [0, 1] pixels)"
    )
    pgd_steps: int = param(5, "PGD steps per training example")


@register_defense("adversarial-training")
class AdversarialTraining(DefensePlugin):
    """Adversarial training (Madry et al. 2018): minimise the loss on PGD examples inside the eps-ball."""

    Params = AdversarialTrainingParams
    dataset_defaults = {"digits": {"eps": 0.1}, "adult": {"eps": 0.1}}

    def hooks(self) -> TrainingHooks:
        return _PGDHooks(self.params.eps, self.params.pgd_steps, self.task.bounds)
