"""Ownership verification, shared by watermarking and fingerprinting, and the model extraction that tests it.

A defense that supports ownership resolution exposes an :class:`OwnershipKey` as an observable: the
inputs to query, the labels the owner claims, and the agreement from which a suspect model is judged
a copy. A watermark key (Adi et al. 2018) holds trigger inputs and the watermark labels; a
fingerprint (Cao et al. 2021, IPGuard) holds inputs near the model's decision boundary labelled by
the model itself. Both are verified the same way: the suspect's agreement with the claimed labels
against the key's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from interplay.validators.data import Split, Task
from interplay.validators.models import build_model
from interplay.validators.training import TrainingHooks, TrainSpec, fit, logits, seed_everything

# The observables under which a deployment offers a key for ownership verification.
KEY_OBSERVABLES = ("watermark_key", "fingerprint_queries")


@dataclass(frozen=True)
class OwnershipKey:
    """Inputs ``x`` with claimed labels ``y``; a suspect that agrees on at least ``threshold`` of them is a copy."""

    scheme: str
    x: torch.Tensor
    y: torch.Tensor
    threshold: float

    def agreement(self, model: nn.Module) -> float:
        """The share of the key's inputs on which ``model`` predicts the claimed label (0 for an empty key)."""
        if len(self.y) == 0:
            return 0.0
        return (logits(model, self.x).argmax(1) == self.y).float().mean().item()

    def verifies(self, model: nn.Module) -> bool:
        return self.agreement(model) >= self.threshold


def keys_of(observables: dict) -> list[OwnershipKey]:
    """The ownership keys a deployment offers (none for an undefended model)."""
    return [observables[k] for k in KEY_OBSERVABLES if isinstance(observables.get(k), OwnershipKey)]


def boundary_points(
    model: nn.Module, x: torch.Tensor, margin: float, steps: int, bounds: tuple[float, float] | None
) -> torch.Tensor:
    """Move each input across the model's boundary into its runner-up class, to a logit lead of ``margin``.

    IPGuard's search (Cao et al. 2021) for data points near the boundary: minimise
    ``(logit_runner_up - logit_top - margin)^2`` by Adam on the input, clipped to ``bounds``.
    """
    with torch.no_grad():
        top, runner_up = model(x).topk(2, 1).indices.unbind(1)
    delta = torch.zeros_like(x, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=0.05)
    for _ in range(steps):
        out = model(x + delta)
        gap = out.gather(1, runner_up[:, None]) - out.gather(1, top[:, None])
        (delta.grad,) = torch.autograd.grad(((gap - margin) ** 2).sum(), delta)  # leaves the model's .grad alone
        optimizer.step()
    points = (x + delta).detach()
    return points.clamp(*bounds) if bounds else points


class _SoftLabelHooks(TrainingHooks):
    """Cross-entropy against the victim's answers; ``y`` carries each query's row in ``answers``."""

    def __init__(self, answers: torch.Tensor):
        self.answers = answers

    def loss(self, model, x, y, s):
        return -(self.answers[y] * F.log_softmax(model(x), 1)).sum(1).mean()


class _AttributionMatchingHooks(_SoftLabelHooks):
    """The soft-label loss plus the mean squared difference between the surrogate's attributions
    (:func:`input_attributions`) and the victim's released ones, relative to the released ones' mean square."""

    def __init__(self, answers: torch.Tensor, attributions: torch.Tensor):
        super().__init__(answers)
        self.attributions, self.scale = attributions, attributions.square().mean().clamp_min(1e-12)

    def loss(self, model, x, y, s):
        mine = input_attributions(model, x, self.answers[y].argmax(1))
        return super().loss(model, x, y, s) + F.mse_loss(mine, self.attributions[y]) / self.scale


def input_attributions(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient times input of ``target``'s logit, differentiable in the model's parameters (double backward).

    The surrogate's stand-in for the released attributions: Integrated Gradients from the zero baseline
    averages the gradient along the path from 0 to ``x`` (DeepLift's rescale rule and SmoothGrad over IG
    follow the same path), gradient times input takes it at ``x`` alone, exact for a linear model. In our runs
    (100 queries, synthetic, Adult, digits) matching a 4-point Riemann sum of IG instead lowered the mismatch
    with the released IG no further and cost twice the time.
    """
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x, create_graph=True)
    return x * grad


def extract(
    victim: nn.Module,
    queries: Split,
    task: Task,
    spec: TrainSpec,
    seed: int,
    attributions: torch.Tensor | None = None,
) -> nn.Module:
    """Model extraction (Tramer et al. 2016; Orekondy et al. 2019): train a surrogate of the victim's
    architecture on the victim's output probabilities for ``queries`` (the adversary's own data).

    With ``attributions`` (the victim's released attributions of ``queries``), the surrogate also matches
    them (model reconstruction from model explanations, Milli et al. 2019; Aivodji et al. 2020):
    :class:`_AttributionMatchingHooks`.
    """
    answers = logits(victim, queries.x).softmax(1)
    seed_everything(seed)
    surrogate = build_model(task.input_shape, task.n_classes, spec.capacity)
    rows = Split(queries.x, torch.arange(len(queries)), queries.s)
    hooks = _SoftLabelHooks(answers) if attributions is None else _AttributionMatchingHooks(answers, attributions)
    return fit(surrogate, rows, spec, seed, hooks)
