"""Many models of one architecture trained at once: parameters stacked (``torch.func.stack_module_state``) and one
forward and backward pass per step for all of them (batched matrix products for an MLP, a loop over the models
otherwise).

A small MLP trained alone spends much of a step in per-call overhead (Python, the autograd engine, the optimizer,
the data loader; for DP-SGD, Opacus' per-sample gradient hooks), which a batch of K models pays once. What remains
is arithmetic: measured per model on the default MLP (2 shared cores), a batch of 8-32 trains the plain recipe about
3x faster than one after another, adversarial training about 1.8x (its PGD passes are compute-bound) and DP-SGD
about 9x (against Opacus).

:func:`train` trains models as a *recipe* prescribes; every model keeps its own initialisation (built after
``seed_everything(seed)``), its own data order (a generator seeded with its seed, drawn as ``fit``'s seeded
``DataLoader`` draws it) and, where the recipe is random, its own generator. Models do not interact: the loss is the
sum of the models' own losses, so each model's gradient is its own, and Adam is elementwise, so each takes its own
steps. A model's result therefore does not depend on which batch it was trained in, bit for bit (each of a model's
sums is added in an order that K and the other models cannot change), and a defense's ``deploy`` trains one model
through the same code with K = 1
(:meth:`~interplay.validators.defenses.base.DefensePlugin.deploy`).

Recipes: :data:`PLAIN` (Adam on the cross-entropy: ``fit`` with the plain
:class:`~interplay.validators.training.TrainingHooks`), adversarial training (PGD against each model's own batch,
:class:`~interplay.validators.defenses.adversarial_training.AdversarialRecipe`) and DP-SGD
(:class:`~interplay.validators.defenses.differential_privacy.DPSGD`). A defense declares its recipe
(``DefensePlugin.batch_recipe``) or None, and is then trained one model at a time by ``fit`` with its hooks.

Memory: :func:`models_per_batch` caps the models per batch (the rule is in its docstring); larger groups are split.

``INTERPLAY_BATCHING=0`` in the environment, or :func:`one_by_one` around a run, restores the one-by-one path
(``fit`` with each defense's hooks, Opacus for DP-SGD): the benchmark's "before" (``benchmarks/bench_batching.py``).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state

from interplay.validators.data import Split
from interplay.validators.models import build_model, is_builtin
from interplay.validators.training import TrainingHooks, TrainSpec, fit, full_steps, seed_everything, step_size

ENV = "INTERPLAY_BATCHING"
_forced: bool | None = None  # set by one_by_one()


def enabled() -> bool:
    """Whether models train in batches (the default); ``INTERPLAY_BATCHING=0`` or :func:`one_by_one` turn it off."""
    if _forced is not None:
        return _forced
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def one_by_one() -> Iterator[None]:
    """Within this block, models train as before batching: one by one with each defense's hooks (Opacus for DP-SGD),
    only the plain recipe's reference and shadow models batched, and no seeds trained ahead."""
    global _forced
    previous, _forced = _forced, False
    try:
        yield
    finally:
        _forced = previous


# --- the stack -------------------------------------------------------------------------------------------------


def mlp_plan(model: nn.Module) -> list[tuple[str, str]] | None:
    """The layers of a plain MLP (an ``nn.Sequential`` of flattening, linear layers with a bias and ReLUs, as
    :func:`~interplay.validators.models.mlp` builds) as (kind, name); None for any other model."""
    if not isinstance(model, nn.Sequential):
        return None
    plan = []
    for name, layer in model.named_children():
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            plan.append(("linear", name))
        elif isinstance(layer, nn.ReLU):
            plan.append(("relu", name))
        elif isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) == (1, -1):
            plan.append(("flatten", name))
        else:
            return None
    return plan


class Stack:
    """``models`` (one architecture) as stacked parameters; ``stack(x)`` runs model k on ``x[k]``: (K, B, ...) inputs
    to (K, B, classes) logits. A plain MLP (:func:`mlp_plan`) runs as batched matrix products (``baddbmm``), about
    twice as fast as ``vmap`` over ``functional_call`` at these sizes; any other model one model after another
    (``functional_call`` on each model's slice of the stack): ``vmap`` would run the K models' convolutions as one
    grouped convolution, whose sums change with K, so that a model would train differently alone and in a batch
    (the loop costs about 15% of a batch's time on the built-in CNN)."""

    def __init__(self, models: Sequence[nn.Module]):
        self.models = list(models)
        self.params, self.buffers = stack_module_state(self.models)
        self.skeleton = copy.deepcopy(self.models[0]).to("meta")
        self.plan = mlp_plan(self.skeleton)

    def _each(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        def model(k: int) -> tuple[dict, dict]:
            return {n: p[k] for n, p in params.items()}, {n: b[k] for n, b in self.buffers.items()}

        return torch.stack([functional_call(self.skeleton, model(k), (x[k],)) for k in range(len(x))])

    def _mlp(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        assert self.plan is not None
        for kind, name in self.plan:
            if kind == "flatten":
                x = x.flatten(2)
            elif kind == "relu":
                x = torch.relu(x)
            else:
                x = torch.baddbmm(params[f"{name}.bias"].unsqueeze(1), x, params[f"{name}.weight"].transpose(1, 2))
        return x

    def __len__(self) -> int:
        return len(self.models)

    def __call__(self, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        params = self.params if params is None else params
        return self._mlp(params, x) if self.plan is not None else self._each(params, x)

    def frozen(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass with the parameters detached (an attack's gradient is the inputs' only)."""
        return self(x, {k: v.detach() for k, v in self.params.items()})

    def write_back(self) -> list[nn.Module]:
        """Copy the trained parameters into the models; return them in eval mode."""
        with torch.no_grad():
            for i, model in enumerate(self.models):
                for name, p in model.named_parameters():
                    p.copy_(self.params[name][i])
        return [m.eval() for m in self.models]


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """The order in which ``fit``'s seeded DataLoader visits ``n`` records in one epoch, drawing what it draws."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the loader iterator's base seed
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)  # RandomSampler's tail permutation (num_samples % n = 0 of it kept)
    return order


def stacked(datasets: Sequence[Split]) -> tuple[torch.Tensor, torch.Tensor]:
    """The datasets' inputs (K, n, ...) and labels (K, n)."""
    return torch.stack([d.x for d in datasets]), torch.stack([d.y for d in datasets])


# --- recipes ---------------------------------------------------------------------------------------------------


@dataclass
class Trained:
    """What training one model of a batch leaves besides the model: ``facts`` for its deployment's metadata (None: the
    defense's hooks' ``metadata()``, e.g. adversarial training's eps), and ``rng_state``, torch's global generator
    as ``fit`` would have left it (DP-SGD draws its noise from it)."""

    facts: dict | None
    rng_state: torch.Tensor


class Recipe(Protocol):
    """How models train in a batch. Recipes are frozen dataclasses: models whose recipes are equal (and whose
    architecture, training settings and data size agree) train in one batch.

    ``record_parameters(model)``: parameter-sized tensors the recipe holds per training record of a step (per-sample
    gradients), for :func:`models_per_batch`. ``train`` trains ``models`` in place on ``datasets`` with ``seeds``,
    starting from torch's global generator states ``states`` (where ``deploy`` would start ``fit``)."""

    def record_parameters(self, model: nn.Module) -> int: ...

    def train(
        self,
        models: list[nn.Module],
        datasets: list[Split],
        seeds: list[int],
        states: list[torch.Tensor],
        spec: TrainSpec,
    ) -> list[Trained]: ...


@dataclass(frozen=True)
class Plain:
    """Adam on the cross-entropy of full mini-batches shuffled by each model's seed: ``fit`` with the plain hooks,
    step by step (same batches, same updates). A subclass changes the inputs a step trains on (:meth:`inputs`)."""

    def record_parameters(self, model: nn.Module) -> int:
        return 0

    def inputs(self, stack: Stack, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """What the models train on at a step, given its batches ``x`` (K, B, ...) and labels ``y`` (K, B)."""
        return x

    def train(self, models, datasets, seeds, states, spec):
        stack = Stack(models)
        x, y = stacked(datasets)
        n_models, n = y.shape
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        optimizer = torch.optim.Adam(stack.params.values(), lr=spec.lr)
        rows = torch.arange(n_models)[:, None]
        size = step_size(n, spec.batch_size)
        for _ in range(spec.epochs):
            order = torch.stack([epoch_order(n, g) for g in generators])
            for step in range(full_steps(n, spec.batch_size)):  # full batches only, as fit's loader
                idx = order[:, step * size : (step + 1) * size]
                xb, yb = x[rows, idx], y[rows, idx]
                out = stack(self.inputs(stack, xb, yb))
                loss = F.cross_entropy(out.flatten(0, 1), yb.flatten(), reduction="none")
                optimizer.zero_grad()
                loss.view(n_models, -1).mean(1).sum().backward()
                optimizer.step()
        stack.write_back()
        return [Trained(None, state) for state in states]


PLAIN = Plain()


# --- memory ----------------------------------------------------------------------------------------------------

MAX_MODELS = 64  # beyond a few dozen models a step is compute-bound: larger batches gain nothing
MEMORY_SHARE = 0.25  # of the memory available to this process, what one batch may take
STATE_COPIES = 6  # parameter-sized tensors per model: parameters, gradients, Adam's two moments, noise, a temporary
ACTIVATION_COPIES = 4  # per record and layer output: activations, their gradients, an attack's copy, a temporary


def available_memory() -> int:
    """Bytes this process may still allocate: the kernel's MemAvailable (/proc/meminfo), lowered to what a cgroup v2
    memory limit leaves; where neither is readable, the free physical pages (os.sysconf), else 1 GiB."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        cgroup = Path("/sys/fs/cgroup")
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            found.append(1 << 30)
    return max(min(found), 0)


def activation_floats(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Floats the outputs of ``model``'s layers hold per record (a forward pass on the meta device)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    skeleton = copy.deepcopy(model).to("meta")
    hooks = [m.register_forward_hook(count) for m in skeleton.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            skeleton(torch.zeros((1, *input_shape), device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return total


def model_bytes(
    model: nn.Module, input_shape: tuple[int, ...], n: int, batch_size: int, per_record_parameters: int
) -> int:
    """The memory one model of a batch takes: ``STATE_COPIES`` copies of its parameters, its ``n`` training records,
    and per record of a step ``ACTIVATION_COPIES`` copies of its input and layer outputs plus the recipe's
    ``per_record_parameters`` parameter-sized tensors (DP-SGD's per-sample gradients), in float32."""
    params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    record = math.prod(input_shape)
    per_record = ACTIVATION_COPIES * (record + activation_floats(model, input_shape)) + per_record_parameters * params
    return 4 * (STATE_COPIES * params + n * (record + 1) + batch_size * per_record)


def models_per_batch(
    model: nn.Module, input_shape: tuple[int, ...], n: int, spec: TrainSpec, recipe: Recipe, budget: int | None = None
) -> int:
    """How many models like ``model`` (``n`` training records each) train in one batch: as many as fit in
    ``MEMORY_SHARE`` of the available memory (:func:`available_memory`; or ``budget`` bytes) at :func:`model_bytes`
    each, at least 1 and at most ``MAX_MODELS``.

    The default MLP (128, 64) on 20 features, 2000 records, batches of 256: about 2 MiB a model, so the 64 models of
    the cap take about 130 MiB. DP-SGD materializes per-sample gradients only for a model that is not a plain MLP
    (``DPSGD``): the digits CNN, 500 records in batches of 64, takes about 8 MiB a model; an MLP of that size
    would take 34 MiB.
    """
    budget = int(MEMORY_SHARE * available_memory()) if budget is None else budget
    size = model_bytes(model, input_shape, n, spec.batch_size, recipe.record_parameters(model))
    return max(1, min(MAX_MODELS, budget // max(size, 1)))


# --- training --------------------------------------------------------------------------------------------------


def train(
    models: Sequence[nn.Module],
    datasets: Sequence[Split],
    seeds: Sequence[int],
    spec: TrainSpec,
    recipe: Recipe = PLAIN,
    states: Sequence[torch.Tensor] | None = None,
) -> list[Trained]:
    """Train each of ``models`` (one architecture, each freshly built after ``seed_everything(seed)``) in place on its
    dataset (all of one size) with its seed as ``recipe`` prescribes, in batches of at most :func:`models_per_batch`;
    the models end in eval mode. ``states``: torch's global generator state at which each model's training starts
    (default: the present one)."""
    if len({len(d) for d in datasets}) > 1:
        raise ValueError("batched training needs datasets of one size")
    if not models:
        return []
    states = list(states) if states is not None else [torch.get_rng_state()] * len(models)
    size = models_per_batch(models[0], tuple(datasets[0].x.shape[1:]), len(datasets[0]), spec, recipe)
    trained: list[Trained] = []
    for i in range(0, len(models), size):
        part = slice(i, i + size)
        trained += recipe.train(list(models[part]), list(datasets[part]), list(seeds[part]), states[part], spec)
    return trained


def train_batched(
    datasets: list[Split], seeds: list[int], input_shape: tuple[int, ...], n_classes: int, spec: TrainSpec
) -> list[nn.Module]:
    """Train ``build_model(...)`` on each of ``datasets`` (all of one size) with its seed and the plain recipe; models
    in eval mode. A user's model (:func:`~interplay.validators.models.is_builtin`) is trained by ``fit``, one after
    another (it may hold state, e.g. batch norm or dropout, that vmapped training would not reproduce)."""
    models = []
    for seed, data in zip(seeds, datasets, strict=True):
        seed_everything(seed)
        models.append(build_model(input_shape, n_classes, spec.capacity))
        if not is_builtin(spec.capacity):
            fit(models[-1], data, spec, seed, TrainingHooks())
    if is_builtin(spec.capacity):
        train(models, datasets, seeds, spec)  # leaves them in eval mode
    return models


def architecture(model: nn.Module) -> tuple:
    """What models must share to be stacked: their layers' types and their parameters' names and shapes."""
    layers = tuple(type(m).__name__ for m in model.modules())
    return layers, tuple((name, tuple(p.shape)) for name, p in model.named_parameters())
