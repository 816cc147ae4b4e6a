"""Differentially private training: DP-SGD (Abadi et al. 2016) to a target epsilon, accounted by Opacus.

Models train in batches (:class:`DPSGD`, see :mod:`~interplay.validators.batched`) with per-sample clipping and
Gaussian noise computed for the stacked models at once; the noise multiplier comes from Opacus' search and the
epsilon spent from Opacus' RDP accountant, for the same (noise multiplier, sample rate, steps) history Opacus'
``PrivacyEngine`` records. The training loop is not Opacus' own: Opacus wraps one ``nn.Module`` at a time (its hooks
or its functorch path compute per-sample gradients for one model and its optimizer steps one model), so it cannot
train a stack of models in one pass, and per call it spends most of a step's time on a small MLP in hooks and
bookkeeping. :class:`DPSGD` reproduces what Opacus does for one model step by step (the same Poisson batches from
the loader's generator, clipping factor ``min(1, C / (norm + 1e-6))``, noise of std ``noise_multiplier * C`` drawn
from torch's global generator in parameter order, division by the expected batch size, Adam), so a model trained by
it matches Opacus' up to float rounding; Opacus' own loop (:class:`_OpacusHooks`) is kept for the one-by-one path.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from opacus import PrivacyEngine
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.validators import ModuleValidator
from torch import nn
from torch.func import functional_call, grad, vmap

from interplay.validators.batched import Stack, Trained, mlp_plan, stacked
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.models import build_model, is_builtin
from interplay.validators.needs import ProbeUnsupported
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, TrainSpec

# Two known-benign warnings that would otherwise print on every DP model: Opacus' reminder that secure_mode
# (a cryptographic RNG) is off, which is intended for experiments, and torch's note that the per-sample
# gradient hooks fire on module outputs when the inputs need no gradient.
warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)


# Opacus' privacy accounting (the noise search of make_private_with_epsilon, get_epsilon) takes seconds per
# model at these sampling rates, far more than training; it depends on a few numbers only, so it is memoized.
@functools.cache
def _noise_multiplier(epsilon: float, delta: float, sample_rate: float, epochs: int) -> float:
    return get_noise_multiplier(
        target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, epochs=epochs, accountant="rdp"
    )


@functools.cache
def _epsilon(history: tuple, delta: float) -> float:
    accountant = RDPAccountant()
    accountant.history = list(history)
    return accountant.get_epsilon(delta)


class _OpacusHooks(TrainingHooks):
    """DP-SGD through Opacus' ``PrivacyEngine``, one model at a time (the path without batching)."""

    full_batches = False  # Opacus replaces the loader by Poisson sampling at rate 1 / len(loader)

    def __init__(self, epsilon: float, delta: float, clip: float, epochs: int):
        self.epsilon, self.delta, self.clip, self.epochs = epsilon, delta, clip, epochs
        self.engine = PrivacyEngine(accountant="rdp")

    def prepare(self, model, optimizer, loader):
        with warnings.catch_warnings():  # Opacus warns that secure_mode is off: fine for experiments
            warnings.simplefilter("ignore")
            # make_private_with_epsilon, with its noise search memoized (same sample rate: 1 / batches)
            noise = _noise_multiplier(self.epsilon, self.delta, 1 / len(loader), self.epochs)
            return self.engine.make_private(
                module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=noise, max_grad_norm=self.clip
            )

    def finish(self, wrapped) -> None:
        wrapped._close()  # drop Opacus' per-sample-gradient hooks from the trained model

    def metadata(self) -> dict:
        return privacy_facts(tuple(self.engine.accountant.history), self.delta, self.clip)


def privacy_facts(history: tuple, delta: float, clip: float) -> dict:
    """A DP deployment's metadata from its accountant history ((noise multiplier, sample rate, steps), ...)."""
    return {
        "epsilon": _epsilon(history, delta) if history else 0.0,
        "delta": delta,
        "max_grad_norm": clip,
        "noise_multiplier": history[-1][0] if history else None,
    }


def poisson_masks(n: int, rate: float, batches: int, epochs: int, seed: int) -> torch.Tensor:
    """Which of ``n`` records each step's batch holds (epochs * batches, n), as Opacus' ``DPDataLoader`` over ``fit``'s
    loader samples them: from the loader's generator (seeded with ``seed``), per epoch the loader iterator's base seed,
    then per step each record with probability ``rate``."""
    generator = torch.Generator().manual_seed(seed)
    masks = []
    for _ in range(epochs):
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        masks += [torch.rand(n, generator=generator) < rate for _ in range(batches)]
    return torch.stack(masks)


BLOCK = 32  # records: a step's padded batch is summed block by block (see :func:`blockwise`)


def blockwise(term, *batches: torch.Tensor) -> torch.Tensor:
    """``term(*blocks)`` summed, in order, over the consecutive blocks of :data:`BLOCK` records of ``batches`` (K, B,
    ...), padded batches whose width B is a multiple of the block. A model's sum then does not depend on the models it
    trains with: one matrix product over the whole batch adds its records in an order that changes with the width,
    which the largest batch among the stacked models sets, whereas each block is added in one fixed way and a block of
    padding adds exactly zero. So a model's DP-SGD run is bit for bit the same alone and in any batch of models."""
    width = batches[0].shape[1]
    total = term(*(b[:, :BLOCK] for b in batches))
    for start in range(BLOCK, width, BLOCK):
        total = total + term(*(b[:, start : start + BLOCK] for b in batches))
    return total


def clipped_sums_mlp(
    plan: list[tuple[str, str]], params: dict, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, clip: float
) -> dict[str, torch.Tensor]:
    """Per model, the sum over its batch of the per-sample gradients clipped to norm ``clip`` and weighted by
    ``weight`` (K, B), for stacked MLPs (``mlp_plan``), without materializing per-sample gradients ("ghost clipping",
    Goodfellow 2015; Li et al. 2022): a linear layer's per-sample weight gradient is the outer product of the gradient
    at its output and its input, so its squared norm is the product of their squared norms, and the clipped sum is one
    matrix product of the rescaled output gradients with the inputs. Equal to :func:`clipped_sums_vmap` up to
    float rounding, at the cost of about one more backward pass."""
    h, inputs, outputs = x, [], []
    for kind, name in plan:
        if kind == "flatten":
            h = h.flatten(2)
        elif kind == "relu":
            h = torch.relu(h)
        else:
            inputs.append(h.detach())
            w, b = params[f"{name}.weight"].detach(), params[f"{name}.bias"].detach()
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if not h.requires_grad:  # the first layer: its output is where the backward pass starts
                h.requires_grad_(True)
            outputs.append(h)
    loss = F.cross_entropy(h.flatten(0, 1), y.flatten(), reduction="sum")  # each record's own loss
    grads = torch.autograd.grad(loss, outputs)
    squared = torch.stack([g.square().sum(-1) * (a.square().sum(-1) + 1) for a, g in zip(inputs, grads, strict=True)])
    squared = squared.sum(0)  # per record, the squared norm of its whole gradient
    factor = (clip / (squared.sqrt() + 1e-6)).clamp(max=1.0) * weight
    sums = {}
    linear = [name for kind, name in plan if kind == "linear"]
    for name, a, g in zip(linear, inputs, grads, strict=True):
        scaled = g * factor[..., None]
        sums[f"{name}.weight"] = blockwise(lambda s, h: torch.bmm(s.transpose(1, 2), h), scaled, a)
        sums[f"{name}.bias"] = blockwise(lambda s: s.sum(1), scaled)
    return sums


def clipped_sums_vmap(
    stack: Stack, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, clip: float
) -> dict[str, torch.Tensor]:
    """:func:`clipped_sums_mlp` for any stacked model: per-sample gradients by ``vmap(grad(...))`` over the records
    and the models, their norms over all parameters (as Opacus computes them), then the weighted clipped sum."""

    def loss(params, buffers, xi, yi):
        return F.cross_entropy(functional_call(stack.skeleton, (params, buffers), (xi[None],)), yi[None])

    per_sample = vmap(vmap(grad(loss), in_dims=(None, None, 0, 0)))
    grads = per_sample({k: v.detach() for k, v in stack.params.items()}, stack.buffers, x, y)
    norms = torch.stack([g.flatten(2).norm(2, dim=2) for g in grads.values()], 2).norm(2, dim=2)
    factor = (clip / (norms + 1e-6)).clamp(max=1.0) * weight
    return {name: blockwise(lambda f, s: torch.einsum("kb,kb...->k...", f, s), factor, g) for name, g in grads.items()}


@dataclass(frozen=True)
class DPSGD:
    """DP-SGD as Opacus trains one model (``make_private`` on ``fit``'s loader with the searched noise multiplier,
    then Adam), for a batch of models, each with its own Poisson batches (its loader generator, seeded with its seed)
    and its own noise (torch's global generator state where its ``fit`` would start). A model whose Poisson sampling
    draws an empty batch skips that step (as ``fit`` does) and trains with the models that skip the same steps."""

    epsilon: float
    delta: float
    clip: float

    def record_parameters(self, model: nn.Module) -> int:
        return 0 if mlp_plan(model) is not None else 3  # per-sample gradients, their norms' and sum's temporaries

    def train(self, models, datasets, seeds, states, spec: TrainSpec) -> list[Trained]:
        n = len(datasets[0])
        batches = math.ceil(n / spec.batch_size)  # len(fit's DataLoader)
        rate = 1 / batches  # Opacus' sample rate
        masks = torch.stack([poisson_masks(n, rate, batches, spec.epochs, seed) for seed in seeds])
        together: dict[tuple[int, ...], list[int]] = {}
        for k in range(len(models)):
            empty = (masks[k].sum(1) == 0).nonzero().flatten().tolist()
            together.setdefault(tuple(empty), []).append(k)
        trained: list[Trained | None] = [None] * len(models)
        for skipped, group in together.items():
            done = self._train(
                [models[k] for k in group], [datasets[k] for k in group], masks[group], [states[k] for k in group],
                set(skipped), rate, spec,
            )  # fmt: skip
            for k, t in zip(group, done, strict=True):
                trained[k] = t
        return trained  # type: ignore[return-value]

    def _train(self, models, datasets, masks, states, skipped: set[int], rate: float, spec: TrainSpec) -> list[Trained]:
        n = len(datasets[0])
        expected = int(n * rate)  # make_private's expected batch size
        noise = _noise_multiplier(self.epsilon, self.delta, rate, spec.epochs)
        std = noise * self.clip
        stack = Stack(models)
        plan = mlp_plan(stack.skeleton)
        x, y = stacked(datasets)
        generators = [torch.Generator() for _ in models]
        for g, state in zip(generators, states, strict=True):
            g.set_state(state)
        optimizer = torch.optim.Adam(stack.params.values(), lr=spec.lr)
        rows = torch.arange(len(models))[:, None]
        for step in range(masks.shape[1]):
            if step in skipped:
                continue
            mask = masks[:, step]
            counts = mask.sum(1)
            width = min(-(-int(counts.max()) // BLOCK) * BLOCK, n)  # padded to whole blocks (:func:`blockwise`)
            idx = torch.argsort(mask.to(torch.uint8), dim=1, descending=True, stable=True)[:, :width]
            weight = (torch.arange(width) < counts[:, None]).float()  # padding rows of the smaller batches weigh 0
            xb, yb = x[rows, idx], y[rows, idx]
            if plan is not None:
                sums = clipped_sums_mlp(plan, stack.params, xb, yb, weight, self.clip)
            else:
                sums = clipped_sums_vmap(stack, xb, yb, weight, self.clip)
            for name, p in stack.params.items():
                drawn = [torch.normal(0.0, std, size=p.shape[1:], generator=g) for g in generators]
                p.grad = (sums[name] + torch.stack(drawn)) / expected
            optimizer.step()
        stack.write_back()
        steps = masks.shape[1] - len(skipped)
        history = ((noise, rate, steps),) if steps else ()
        return [Trained(privacy_facts(history, self.delta, self.clip), g.get_state()) for g in generators]


@dataclass(frozen=True)
class DifferentialPrivacyParams(PluginParams):
    epsilon: float = param(
        2.0, "target privacy budget epsilon (RDP accountant); the noise is searched to reach it", gt=0, le=1000
    )
    delta: float = param(1e-5, "target delta", gt=0, lt=1)
    clip: float = param(1.0, "per-sample gradient clipping norm (max_grad_norm)", gt=0, le=100)


@register_defense("differential-privacy")
class DifferentialPrivacy(DefensePlugin):
    """DP-SGD (Abadi et al. 2016) to a target epsilon, accounted by Opacus."""

    Params = DifferentialPrivacyParams

    def check(self, task) -> None:
        """A user's model must be one Opacus can compute per-sample gradients for (no batch norm, for one)."""
        capacity = self.settings.train.capacity
        if is_builtin(capacity):
            return
        problems = ModuleValidator.validate(build_model(task.input_shape, task.n_classes, capacity), strict=False)
        if problems:
            raise ProbeUnsupported(f"differential-privacy (Opacus) cannot train model {capacity}: {problems[0]}")

    def hooks(self) -> TrainingHooks:
        p = self.params
        return _OpacusHooks(p.epsilon, p.delta, p.clip, self.settings.train.epochs)

    def batch_recipe(self) -> DPSGD:
        return DPSGD(self.params.epsilon, self.params.delta, self.params.clip)
