"""Label smoothing (Szegedy et al. 2016; Muller, Kornblith and Hinton 2019): the cross-entropy against the true
label's one-hot vector mixed with the uniform distribution, ``(1 - eps) * onehot + eps / K`` over ``K`` classes
(``F.cross_entropy(..., label_smoothing=eps)``). Default ``eps`` 0.1, Szegedy et al.'s value (on ImageNet).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _Smoothed(TrainingHooks):
    def __init__(self, eps: float):
        self.eps = eps

    def loss(self, model, x, y, s):
        return F.cross_entropy(model(x), y, label_smoothing=self.eps)

    def metadata(self) -> dict:
        return {"label_smoothing": self.eps}


@dataclass(frozen=True)
class LabelSmoothingParams(PluginParams):
    eps: float = param(
        0.1, "share of the label mass spread uniformly over the classes (Szegedy et al.: 0.1)", ge=0, lt=1
    )


@register_defense("label-smoothing")
class LabelSmoothing(DefensePlugin):
    """Label smoothing (Szegedy et al. 2016): the cross-entropy against labels mixed with the uniform distribution."""

    Params = LabelSmoothingParams

    def hooks(self) -> TrainingHooks:
        return _Smoothed(self.params.eps)
