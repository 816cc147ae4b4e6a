"""Data augmentation by mixup (Zhang, Cisse, Dauphin and Lopez-Paz 2018): each batch is replaced by convex
combinations of pairs of its records, ``lam * x_i + (1 - lam) * x_j``, trained against the same combination of their
one-hot labels, with ``lam ~ Beta(alpha, alpha)`` drawn once per batch and the pairs a random permutation of the batch
(the paper's implementation). Mixup is domain-agnostic and is applied alike to tabular records (standardized
attributes, one-hot categories included) and to digit images. Default ``alpha`` 0.2, within the range
(0.1 to 0.4) Zhang et al. report improving on plain training on ImageNet.

``kind="flip-crop"`` (Fashion-MNIST's default), images only: the standard image augmentation, each image of a
batch flipped left to right with probability 1/2 and cropped back to its size at a random offset of up to ``pad``
pixels after zero padding by ``pad`` on every side. The draws come from torch's global generator, which
``deploy`` seeds: deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.needs import ProbeUnsupported
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class Mixup(TrainingHooks):
    def __init__(self, alpha: float):
        self.beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
        self.alpha = alpha

    def loss(self, model, x, y, s):
        lam = self.beta.sample()
        pair = torch.randperm(len(y))
        out = model(lam * x + (1 - lam) * x[pair])
        return lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[pair])

    def metadata(self) -> dict:
        return {"mixup_alpha": self.alpha}


class FlipCrop(TrainingHooks):
    def __init__(self, pad: int):
        self.pad = pad

    def loss(self, model, x, y, s):
        n, (h, w), p = len(x), x.shape[-2:], self.pad
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-1), x)
        padded = F.pad(x, (p, p, p, p))
        dy, dx = torch.randint(0, 2 * p + 1, (2, n)).tolist()
        crops = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
        return F.cross_entropy(model(crops), y)

    def metadata(self) -> dict:
        return {"flip_crop_pad": self.pad}


@dataclass(frozen=True)
class DataAugmentationParams(PluginParams):
    alpha: float = param(
        0.2, "mixup's Beta(alpha, alpha) parameter for the mixing weight (Zhang et al.: 0.1-0.4)", gt=0, le=100
    )
    kind: str = param("mixup", "mixup, or flips and crops (images)", choices=("mixup", "flip-crop"))
    pad: int = param(2, "flip-crop: the largest crop offset, in pixels", ge=1, le=8)


@register_defense("data-augmentation")
class DataAugmentation(DefensePlugin):
    """Mixup (Zhang et al. 2018): train on convex combinations of pairs of records and of their labels; or, on
    images, random flips and crops."""

    Params = DataAugmentationParams
    dataset_defaults = {"fashion-mnist": {"kind": "flip-crop"}}

    def check(self, task):
        if self.params.kind == "flip-crop" and len(task.input_shape) != 3:
            raise ProbeUnsupported(f"flip-crop augmentation needs images; {task.name}'s inputs are not images")

    def hooks(self) -> TrainingHooks:
        return FlipCrop(self.params.pad) if self.params.kind == "flip-crop" else Mixup(self.params.alpha)
