"""Projected gradient descent (Madry et al. 2018), shared by adversarial training and the evasion probe.

Hand-rolled (a dozen lines) rather than taken from torchattacks or ART: neither is a dependency,
and both would pull in much more than this L-infinity PGD needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pgd(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, clamp: tuple[float, float] | None = None
) -> torch.Tensor:
    """Untargeted L-infinity PGD from a zero start with step 2.5*eps/steps; returns adversarial inputs."""
    alpha = 2.5 * eps / steps
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(steps):
        loss = F.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta + alpha * grad.sign()).clamp(-eps, eps).detach()
        if clamp is not None:
            delta = (x + delta).clamp(*clamp) - x
        delta.requires_grad_(True)
    return (x + delta).detach()
