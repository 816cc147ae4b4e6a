"""Knowledge distillation (Hinton, Vinyals and Dean 2015): a student trained on a teacher's soft labels.

The teacher is the plain recipe on the training data; the student, a fresh model of the same architecture, trains on
the same inputs to minimise ``T^2 * KL(softmax(teacher / T) || softmax(student / T))`` (the ``T^2`` keeps the soft
term's gradients at the scale of a hard-label loss, as Hinton et al. prescribe), plus ``alpha`` times the
cross-entropy with the true labels. The deployed model is the student, queried at temperature 1; the teacher is not
exposed. Defaults chosen a priori: ``alpha`` 0, the soft labels alone (the pure definition); temperature 4, the top of
the 2.5-4 range that Hinton et al. found best for a small distilled network (30 units per hidden layer on MNIST; these
networks have 32 to 128), temperatures above 8 doing as well only with 300 units or more.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin, Deployment
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, fit


class SoftLabels(TrainingHooks):
    """The distillation loss against ``teacher``'s temperature-``temperature`` softmax."""

    def __init__(self, teacher: nn.Module, temperature: float, alpha: float):
        self.teacher, self.temperature, self.alpha = teacher.eval(), temperature, alpha

    def loss(self, model, x, y, s):
        t = self.temperature
        out = model(x)
        with torch.no_grad():
            target = F.log_softmax(self.teacher(x) / t, 1)
        soft = F.kl_div(F.log_softmax(out / t, 1), target, reduction="batchmean", log_target=True) * t**2
        return soft if self.alpha == 0 else (1 - self.alpha) * soft + self.alpha * F.cross_entropy(out, y)

    def metadata(self) -> dict:
        return {"temperature": self.temperature, "alpha": self.alpha}


@dataclass(frozen=True)
class DistillationParams(PluginParams):
    temperature: float = param(
        4.0, "softmax temperature T of the teacher's soft labels and the student's fit to them", gt=0, le=100
    )
    alpha: float = param(0.0, "weight of the hard-label cross-entropy (0: soft labels only)", ge=0, le=1)


@register_defense("distillation")
class Distillation(DefensePlugin):
    """Knowledge distillation (Hinton et al. 2015): deploy a student trained on the teacher's soft labels."""

    Params = DistillationParams

    def deploy(self, train: Split, seed: int) -> Deployment:
        teacher = DefensePlugin(self.settings, self.task).deploy(train, seed).model
        student = self.build()  # torch's generator goes on from the teacher's training: a fresh initialisation
        hooks = SoftLabels(teacher, self.params.temperature, self.params.alpha)
        fit(student, train, self.settings.train, seed, hooks)
        return self._deployment(student, train, hooks.metadata())
