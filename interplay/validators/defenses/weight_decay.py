"""Weight decay (Krogh and Hertz 1992) decoupled from the adaptive gradient step: AdamW (Loshchilov and Hutter 2019)
in place of the plain recipe's Adam, same learning rate. Each step shrinks every parameter by a factor ``1 - lambda``
besides Adam's step.

The decay is set as Loshchilov and Hutter's normalized weight decay, ``lambda = lambda_norm / sqrt(steps)`` with
``steps`` the batches per epoch times the epochs, their remedy for the best decay depending on the training's
length; these trainings take a few hundred steps, where a decay tuned for long runs would do nothing. Default
``lambda_norm`` 0.025, the value of the authors' AdamW example (github.com/loshchil/AdamW-and-SGDW): about 0.0017 per
step on the default 210 full-batch steps, over which a weight no gradient moved would shrink to 0.70 of its size.
torch's AdamW multiplies its ``weight_decay`` by the learning rate, so it is given ``lambda / lr``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _AdamW(TrainingHooks):
    def __init__(self, normalized: float, epochs: int):
        self.normalized, self.epochs, self.per_step = normalized, epochs, 0.0

    def prepare(self, model, optimizer, loader):
        lr = optimizer.param_groups[0]["lr"]
        self.per_step = self.normalized / math.sqrt(len(loader) * self.epochs)
        return model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=self.per_step / lr), loader

    def metadata(self) -> dict:
        return {"normalized_weight_decay": self.normalized, "weight_decay_per_step": self.per_step}


@dataclass(frozen=True)
class WeightDecayParams(PluginParams):
    normalized: float = param(
        0.025,
        "normalized weight decay lambda_norm: each step decays the weights by lambda_norm / sqrt(total steps)",
        gt=0,
        le=1,
    )


@register_defense("weight-decay")
class WeightDecay(DefensePlugin):
    """Decoupled weight decay (AdamW, Loshchilov and Hutter 2019), normalized to the number of training steps."""

    Params = WeightDecayParams

    def hooks(self) -> TrainingHooks:
        return _AdamW(self.params.normalized, self.settings.train.epochs)
