"""Data augmentation by mixup (Zhang, Cisse, Dauphin and Lopez-Paz 2018): each batch is replaced by convex
combinations of pairs of its records, ``lam * x_i + (1 - lam) * x_j``, trained against the same combination of their
one-hot labels, with ``lam ~ Beta(alpha, alpha)`` drawn once per batch and the pairs a random permutation of the batch
(the paper's implementation). Mixup is domain-agnostic and is applied alike to tabular records (standardized
attributes, one-hot categories included) and to digit images. Default ``alpha`` 0.2, within the range
(0.1 to 0.4) Zhang et al. report improving on plain training on ImageNet. The draws come from torch's global
generator, which ``deploy`` seeds: deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class Mixup(TrainingHooks):
    def __init__(self, alpha: float):
        self.beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
        self.alpha = alpha

    def loss(self, model, x, y, s):
        lam = self.beta.sample()
        pair = torch.randperm(len(y))
        out = model(lam * x + (1 - lam) * x[pair])
        return lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[pair])

    def metadata(self) -> dict:
        return {"mixup_alpha": self.alpha}


@dataclass(frozen=True)
class DataAugmentationParams(PluginParams):
    alpha: float = param(
        0.2, "mixup's Beta(alpha, alpha) parameter for the mixing weight (Zhang et al.: 0.1-0.4)", gt=0, le=100
    )


@register_defense("data-augmentation")
class DataAugmentation(DefensePlugin):
    """Mixup (Zhang et al. 2018): train on convex combinations of pairs of records and of their labels."""

    Params = DataAugmentationParams

    def hooks(self) -> TrainingHooks:
        return Mixup(self.params.alpha)
