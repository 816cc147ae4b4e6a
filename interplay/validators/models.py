"""Target models: MLPs with capacity presets (the SoK's factor M1) and a small CNN for digits."""

from __future__ import annotations

import math

from torch import nn

# Hidden-layer widths per capacity preset (model capacity, factor M1).
CAPACITY = {"small": (32,), "medium": (128, 64), "large": (256, 256), "xlarge": (512, 512, 256)}
# Channel widths of the digits CNN per preset.
CNN_CAPACITY = {"small": (8, 16), "medium": (16, 32), "large": (32, 64), "xlarge": (64, 128)}


def mlp(n_in: int, n_out: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        n_in = h
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def small_cnn(n_out: int, channels: tuple[int, int]) -> nn.Sequential:
    """Two 3x3 convolutions and a linear head for 1x8x8 images (no batch norm: Opacus-compatible)."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 4, n_out),
    )


def build_model(input_shape: tuple[int, ...], n_classes: int, capacity: str) -> nn.Module:
    """An MLP for flat inputs, the small CNN for images; ``capacity`` names a preset."""
    if capacity not in CAPACITY:
        raise ValueError(f"unknown capacity {capacity!r}; choose from {', '.join(CAPACITY)}")
    if len(input_shape) == 3:
        return small_cnn(n_classes, CNN_CAPACITY[capacity])
    return mlp(math.prod(input_shape), n_classes, CAPACITY[capacity])
