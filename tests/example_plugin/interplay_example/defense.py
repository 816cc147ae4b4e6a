"""Training with Gaussian input noise (Bishop 1995): every training batch is perturbed with N(0, sigma^2) noise."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _NoisyInputs(TrainingHooks):
    def __init__(self, sigma: float):
        self.sigma = sigma

    def loss(self, model, x, y, s):
        return F.cross_entropy(model(x + self.sigma * torch.randn_like(x)), y)

    def metadata(self) -> dict:
        return {"noise_sigma": self.sigma}


@dataclass(frozen=True)
class GaussianNoiseParams(PluginParams):
    sigma: float = param(0.3, "standard deviation of the input noise, in input units", ge=0, le=10)


@register_defense("example-gaussian-noise")
class GaussianNoise(DefensePlugin):
    """Training with Gaussian input noise: the model sees a freshly perturbed copy of every batch."""

    Params = GaussianNoiseParams

    def hooks(self) -> TrainingHooks:
        return _NoisyInputs(self.params.sigma)
