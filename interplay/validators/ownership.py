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


def extract(victim: nn.Module, queries: Split, task: Task, spec: TrainSpec, seed: int) -> nn.Module:
    """Model extraction (Tramer et al. 2016; Orekondy et al. 2019): train a surrogate of the victim's
    architecture on the victim's output probabilities for ``queries`` (the adversary's own data)."""
    answers = logits(victim, queries.x).softmax(1)
    seed_everything(seed)
    surrogate = build_model(task.input_shape, task.n_classes, spec.capacity)
    rows = Split(queries.x, torch.arange(len(queries)), queries.s)
    return fit(surrogate, rows, spec, seed, _SoftLabelHooks(answers))
