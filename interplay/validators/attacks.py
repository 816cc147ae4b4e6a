"""Evasion attacks shared by adversarial training and the evasion probe: white-box projected gradient descent
(Madry et al. 2018) and its query-limited black-box counterpart, NES gradient estimation (Ilyas et al. 2018),
optionally guided by a gradient prior.

Hand-rolled (a few dozen lines) rather than taken from torchattacks or ART: neither is a dependency,
and both would pull in much more than these L-infinity attacks need.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from interplay.validators.training import logits


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


def pgd_many(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    clamp: tuple[float, float] | None = None,
) -> torch.Tensor:
    """:func:`pgd` against K models at once, each attacking its own records: ``forward`` maps inputs (K, B, ...) to
    logits (K, B, classes), model k on ``x[k]`` (e.g. :class:`~interplay.validators.batched.Stack`), and ``y`` is
    (K, B). The gradient of the sum of the models' mean losses is each model's own, so ``result[k]`` is
    ``pgd(model_k, x[k], y[k], ...)`` up to float rounding."""
    alpha = 2.5 * eps / steps
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(steps):
        out = forward(x + delta)
        losses = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(len(y), -1)
        (grad,) = torch.autograd.grad(losses.mean(1).sum(), delta)
        delta = (delta + alpha * grad.sign()).clamp(-eps, eps).detach()
        if clamp is not None:
            delta = (x + delta).clamp(*clamp) - x
        delta.requires_grad_(True)
    return (x + delta).detach()


def nes(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    queries: int,
    generator: torch.Generator,
    clamp: tuple[float, float] | None = None,
    prior: Callable[[torch.Tensor], torch.Tensor] | None = None,
    samples: int = 10,
) -> torch.Tensor:
    """Query-limited untargeted L-infinity attack that sees only the model's outputs; returns adversarial inputs.

    Ilyas et al. 2018 (NES): each step estimates the gradient of the logit margin (the best other class's logit
    minus the true class's, Carlini and Wagner 2017: the cross-entropy of a confident record saturates below
    float32 resolution, and its finite differences vanish) from ``samples`` antithetic pairs of Gaussian
    queries at radius ``eps / 10``, takes a signed step of 2.5*eps/steps (as :func:`pgd`) and queries the new
    point once; a record stops at the first point the model misclassifies.

    ``prior(x)``, when given, returns a guess of the gradient's direction at ``x`` and costs one query per
    record. The estimate is then split as in Cheng et al. 2019 (P-RGF): the margin's finite difference along
    the prior (two queries: its sign and size are measured, so a wrong-signed prior is as good and a useless
    one weighs nothing) plus NES in the prior's orthogonal complement, shrunk by ``samples / (samples + dim)``,
    the share of a coordinate's NES estimate that is signal rather than sampling noise. Steps: ``queries``
    divided by the queries per step, ``2 * samples + 1`` (plus 3 with a prior); the remainder goes unspent.
    """
    steps = queries // (2 * samples + 1 + (3 if prior is not None else 0))
    if steps == 0 or len(y) == 0:
        return x.clone()
    alpha, sigma = 2.5 * eps / steps, eps / 10
    shrink = samples / (samples + x[0].numel())
    per_record = (-1, *[1] * (x.dim() - 1))  # a view that broadcasts one value per record over its features

    def margin(points: torch.Tensor) -> torch.Tensor:
        """The margin at ``points`` (k, records, ...): k queries per record; (k, records)."""
        out = logits(model, points.flatten(0, 1)).view(len(points), len(y), -1)
        label = y.expand(len(points), -1)[..., None]
        return out.scatter(2, label, -torch.inf).amax(2) - out.gather(2, label)[..., 0]

    def slopes(at: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """The margin's antithetic finite difference at ``at`` along each of ``directions`` (k, records, ...)."""
        return (margin(at + sigma * directions) - margin(at - sigma * directions)) / (2 * sigma)

    adv, active = x.clone(), torch.ones(len(y), dtype=torch.bool)
    for _ in range(steps):
        u = torch.randn((samples, *x.shape), generator=generator)
        if prior is not None:
            guess = prior(adv)
            d = guess / guess.flatten(1).norm(dim=1).clamp_min(1e-12).view(per_record)
            u = u - (u * d).flatten(2).sum(2).view(samples, *per_record) * d
        grad = (slopes(adv, u).view(samples, *per_record) * u).mean(0)
        if prior is not None:
            grad = slopes(adv, d[None])[0].view(per_record) * d + shrink * grad
        step = (adv + alpha * grad.sign()).clamp(x - eps, x + eps)
        if clamp is not None:
            step = step.clamp(*clamp)
        adv = torch.where(active.view(per_record), step, adv)
        active &= logits(model, adv).argmax(1) == y
    return adv
