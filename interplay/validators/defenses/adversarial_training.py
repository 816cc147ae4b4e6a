"""Adversarial training (Madry et al. 2018): minimise the loss on PGD examples inside the eps-ball."""

from __future__ import annotations

import torch.nn.functional as F

from interplay.validators.attacks import pgd
from interplay.validators.defenses.base import Defense
from interplay.validators.training import TrainingHooks


class _PGDHooks(TrainingHooks):
    def __init__(self, eps: float, steps: int, bounds):
        self.eps, self.steps, self.bounds = eps, steps, bounds

    def loss(self, model, x, y, s):
        return F.cross_entropy(model(pgd(model, x, y, self.eps, self.steps, self.bounds)), y)

    def metadata(self) -> dict:
        return {"eps": self.eps, "pgd_steps": self.steps}


class AdversarialTraining(Defense):
    slug = "adversarial-training"

    def hooks(self) -> TrainingHooks:
        return _PGDHooks(self.settings.eps, self.settings.pgd_steps_train, self.task.bounds)
