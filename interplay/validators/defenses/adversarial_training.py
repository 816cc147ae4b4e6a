"""Adversarial training (Madry et al. 2018): minimise the loss on PGD examples inside the eps-ball."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interplay.validators.attacks import pgd, pgd_many
from interplay.validators.batched import Plain, Stack
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _PGDHooks(TrainingHooks):
    """The recipe one model at a time (``fit``; the path without batching)."""

    def __init__(self, eps: float, steps: int, bounds):
        self.eps, self.steps, self.bounds = eps, steps, bounds

    def loss(self, model, x, y, s):
        return F.cross_entropy(model(pgd(model, x, y, self.eps, self.steps, self.bounds)), y)

    def metadata(self) -> dict:
        return {"eps": self.eps, "pgd_steps": self.steps}


@dataclass(frozen=True)
class AdversarialRecipe(Plain):
    """The plain recipe on PGD examples: at every step each model of the batch attacks its own batch
    (:func:`~interplay.validators.attacks.pgd_many`), as ``_PGDHooks`` does for one model."""

    eps: float = 0.0
    steps: int = 1
    bounds: tuple[float, float] | None = None

    def inputs(self, stack: Stack, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return pgd_many(stack.frozen, x, y, self.eps, self.steps, self.bounds)


@dataclass(frozen=True)
class AdversarialTrainingParams(PluginParams):
    eps: float = param(
        0.25,
        "L-infinity budget of the training attack, in input units (standardized features or [0, 1] pixels)",
        gt=0,
        le=1,
    )
    pgd_steps: int = param(5, "PGD steps per training example", ge=1, le=100)


@register_defense("adversarial-training")
class AdversarialTraining(DefensePlugin):
    """Adversarial training (Madry et al. 2018): minimise the loss on PGD examples inside the eps-ball."""

    Params = AdversarialTrainingParams
    dataset_defaults = {"digits": {"eps": 0.1}, "adult": {"eps": 0.1}, "fashion-mnist": {"eps": 0.1}}

    def hooks(self) -> TrainingHooks:
        return _PGDHooks(self.params.eps, self.params.pgd_steps, self.task.bounds)

    def batch_recipe(self) -> AdversarialRecipe:
        bounds = tuple(self.task.bounds) if self.task.bounds is not None else None
        return AdversarialRecipe(self.params.eps, self.params.pgd_steps, bounds)  # type: ignore[arg-type]
