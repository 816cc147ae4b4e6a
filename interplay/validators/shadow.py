"""Many shadow models trained at once: the plain recipe vmapped over stacked parameters (torch.func).

:func:`train_batched` trains one model per dataset exactly as :func:`~interplay.validators.training.fit`
with the plain :class:`~interplay.validators.training.TrainingHooks` would, seed by seed (same
initialisation, same shuffled mini-batches, Adam on the cross-entropy), but in one vmapped forward and
backward pass per step: the loss is the sum of the models' mean losses, so each model's gradient is
its own, and Adam is elementwise, so each model takes its own steps.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from interplay.validators.data import Split
from interplay.validators.models import build_model, is_builtin
from interplay.validators.training import TrainingHooks, TrainSpec, fit, seed_everything


def _epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """The order in which ``fit``'s seeded DataLoader visits ``n`` records in one epoch, drawing what it draws."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the loader iterator's base seed
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)  # RandomSampler's tail permutation (num_samples % n = 0 of it kept)
    return order


def train_batched(
    datasets: list[Split], seeds: list[int], input_shape: tuple[int, ...], n_classes: int, spec: TrainSpec
) -> list[nn.Module]:
    """Train ``build_model(...)`` on each of ``datasets`` (all of one size) with its seed; models in eval mode. A
    user's model (:func:`~interplay.validators.models.is_builtin`) is trained by ``fit``, one after another."""
    models = []
    for seed, data in zip(seeds, datasets, strict=True):
        seed_everything(seed)
        models.append(build_model(input_shape, n_classes, spec.capacity))
        if not is_builtin(spec.capacity):
            fit(models[-1], data, spec, seed, TrainingHooks())
    return models if not is_builtin(spec.capacity) else fit_batched(models, datasets, seeds, spec)


def fit_batched(models: list[nn.Module], datasets: list[Split], seeds: list[int], spec: TrainSpec) -> list[nn.Module]:
    """Train each of ``models`` (one architecture, freshly built after ``seed_everything(seed)``) in place on its
    dataset (all of one size) as ``fit`` with the plain recipe would; return them in eval mode."""
    if len({len(d) for d in datasets}) != 1:
        raise ValueError("batched training needs datasets of one size")
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def forward(p, b, x):
        return functional_call(skeleton, (p, b), (x,))

    batched = vmap(forward)
    x, y = torch.stack([d.x for d in datasets]), torch.stack([d.y for d in datasets])
    n_models, n = y.shape
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    optimizer = torch.optim.Adam(params.values(), lr=spec.lr)
    rows = torch.arange(n_models)[:, None]
    for _ in range(spec.epochs):
        order = torch.stack([_epoch_order(n, g) for g in generators])
        for start in range(0, n, spec.batch_size):
            idx = order[:, start : start + spec.batch_size]
            out = batched(params, buffers, x[rows, idx])
            loss = F.cross_entropy(out.flatten(0, 1), y[rows, idx].flatten(), reduction="none")
            optimizer.zero_grad()
            loss.view(n_models, -1).mean(1).sum().backward()
            optimizer.step()
    with torch.no_grad():
        for i, m in enumerate(models):
            for name, p in m.named_parameters():
                p.copy_(params[name][i])
    return [m.eval() for m in models]
