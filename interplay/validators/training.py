"""The one training loop every defense shares, with hooks for what a defense changes.

A defense may alter the training data (before this loop), wrap the model, optimizer and loader
(``TrainingHooks.prepare``, e.g. Opacus), or change the per-batch loss (``TrainingHooks.loss``,
e.g. adversarial examples or a fairness adversary). Training is deterministic per seed on CPU.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from interplay.validators.data import Split


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    capacity: str = "medium"


def seed_everything(seed: int) -> None:
    """Seed torch and make CPU kernels deterministic.

    One intra-op thread: these models are too small to gain from more, and OpenMP's spinning
    threads slow training by orders of magnitude when other processes share the cores.
    """
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    _keep_freed_memory()


@functools.cache
def _keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks of up to 32 MiB for reuse instead of handing them back to the kernel.

    By default it returns large freed blocks (unmapping them or trimming the top of the heap), so the next
    allocation of that size page-faults and the kernel zeroes it again. Opacus allocates several per-sample
    gradient tensors of a few MiB per DP-SGD step: about a million page faults per seed of DP + watermarking,
    a quarter of its time. What is computed is unchanged, only where the memory comes from. A no-op where
    the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's maximum on 64-bit systems
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


def step_size(n: int, batch_size: int) -> int:
    """Records per optimizer step on ``n`` training records: ``batch_size``, or all ``n`` when fewer."""
    return max(1, min(batch_size, n))


def full_steps(n: int, batch_size: int) -> int:
    """Optimizer steps per epoch when every step takes a full batch (:func:`step_size`): the last ``n mod batch``
    records of an epoch's order are left out of that epoch (a fresh order each epoch), never trained on as a small
    step. A partial last batch would weigh as much as a full one under Adam: a regularizer tied to the training-set
    size (8 records a step for 1800 of them in batches of 256), unrelated to any defense."""
    return n // step_size(n, batch_size)


class TrainingHooks:
    """The plain recipe: Adam on the cross-entropy. Defenses subclass and override.

    ``full_batches``: whether steps take only full batches (:func:`full_steps`); a recipe that samples its own
    batches sets it False (DP-SGD's Poisson sampling, whose batches have an expected size, not a fixed one).
    """

    full_batches = True

    def prepare(self, model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader):
        return model, optimizer, loader

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y)

    def finish(self, wrapped: nn.Module) -> None:
        """Undo what ``prepare`` attached to the model (e.g. per-sample gradient hooks)."""

    def metadata(self) -> dict:
        """Facts about the finished training a report needs (e.g. the privacy budget spent)."""
        return {}


class BatchedTensors(TensorDataset):
    """A ``TensorDataset`` whose loader fetches a batch by one index per tensor (``__getitems__``) instead of
    record by record and ``torch.stack``: the same batches (same values, same sampler and generator draws,
    Opacus' Poisson sampling included), without a Python call per record, which took a third of a DP-SGD
    validation's time. ``collate_fn`` is :func:`as_batch`."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[idx] for t in self.tensors)


def as_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return batch


def fit(model: nn.Module, data: Split, spec: TrainSpec, seed: int, hooks: TrainingHooks) -> nn.Module:
    """Train ``model`` in place on ``data`` (batches shuffled by ``seed``); return it unwrapped, in eval mode.

    Call :func:`seed_everything` before building the model so that its initialisation is seeded too.
    """
    loader = DataLoader(
        BatchedTensors(data.x, data.y, data.s),
        batch_size=step_size(len(data), spec.batch_size) if hooks.full_batches else spec.batch_size,
        drop_last=hooks.full_batches,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=as_batch,  # type: ignore[arg-type]  # __getitems__ hands it the batch, not a list of samples
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    wrapped, optimizer, loader = hooks.prepare(model, optimizer, loader)
    wrapped.train()
    for _ in range(spec.epochs):
        for x, y, s in loader:
            if len(y) == 0:  # Poisson sampling (DP-SGD) can draw an empty batch
                continue
            optimizer.zero_grad()
            hooks.loss(wrapped, x, y, s).backward()
            optimizer.step()
    hooks.finish(wrapped)
    return model.eval()


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def parameter_digest(model: nn.Module) -> str:
    """A digest of a model's parameters and buffers: equal digests, the same model."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def accuracy(model: nn.Module, data: Split) -> float:
    return (logits(model, data.x).argmax(1) == data.y).float().mean().item()
