"""Post-training integer quantization (Jacob et al. 2018), simulated as fake quantization.

After training, each Linear/convolution weight is quantized per output channel, symmetric (zero point 0, integers in
``[-(2^(b-1) - 1), 2^(b-1) - 1]``, scale: the channel's largest magnitude over the largest integer), and the input of
each such layer per tensor, affine (integers in ``[0, 2^b - 1]``), with its range the minimum and maximum that input
takes on the training data (widened to hold zero), measured on the model with quantized weights. The weights are
replaced by their quantized values; the inputs are quantized in every forward pass by a module put before the layer.
Both go through ``torch.fake_quantize_per_*_affine``, whose straight-through gradient keeps the model differentiable
for white-box attacks (zero outside the calibrated range, where the integer saturates). Layers a user's model calls
functionally are not quantized. Default 8 bits: int8, the setting of Jacob et al.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.defenses.pruning import WeightLayer, weight_layers
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, logits


class QuantizedInput(nn.Module):
    """Fake-quantizes its input per tensor with a calibrated scale and zero point."""

    scale: torch.Tensor
    zero_point: torch.Tensor

    def __init__(self, low: float, high: float, bits: int):
        super().__init__()
        low, high = min(low, 0.0), max(high, 0.0)
        self.qmax = 2**bits - 1
        scale = max(high - low, 1e-8) / self.qmax
        self.register_buffer("scale", torch.tensor(scale))
        self.register_buffer("zero_point", torch.tensor(min(max(round(-low / scale), 0), self.qmax), dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, 0, self.qmax)


@torch.no_grad()
def quantize_weights(layer: WeightLayer, bits: int) -> None:
    """Replace ``layer.weight`` by its symmetric per-output-channel quantization."""
    w, qmax = layer.weight, 2 ** (bits - 1) - 1
    scale = w.abs().flatten(1).amax(1).clamp_min(1e-12) / qmax
    zero = torch.zeros(len(scale), dtype=torch.int32)
    w.copy_(torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -qmax, qmax))


def input_ranges(model: nn.Module, layers: list[WeightLayer], x: torch.Tensor) -> list[tuple[float, float]]:
    """The minimum and maximum of each layer's input when ``model`` runs on ``x``."""
    seen: dict[nn.Module, tuple[float, float]] = {}

    def record(layer, inputs):
        lo, hi = seen.get(layer, (float("inf"), float("-inf")))
        seen[layer] = (min(lo, inputs[0].min().item()), max(hi, inputs[0].max().item()))

    handles = [layer.register_forward_pre_hook(record) for layer in layers]
    logits(model, x)
    for h in handles:
        h.remove()
    return [seen.get(layer, (0.0, 0.0)) for layer in layers]  # a layer the forward pass never calls: (0, 0)


def _replace(model: nn.Module, old: nn.Module, new: nn.Module) -> nn.Module:
    """``model`` with its submodule ``old`` replaced by ``new`` (``new`` itself if ``model`` is ``old``)."""
    slots = [(parent, name) for parent in model.modules() for name, child in parent.named_children() if child is old]
    for parent, name in slots:
        setattr(parent, name, new)
    return new if model is old else model


class _Quantized(TrainingHooks):
    def __init__(self, bits: int):
        self.bits = bits

    def metadata(self) -> dict:
        return {"bits": self.bits}


@dataclass(frozen=True)
class QuantizationParams(PluginParams):
    bits: int = param(
        8, "integer width of the weights and of the layers' inputs (8: int8, Jacob et al. 2018)", ge=2, le=16
    )


@register_defense("quantization")
class Quantization(DefensePlugin):
    """Post-training integer quantization (Jacob et al. 2018): weights per channel, layer inputs per tensor."""

    Params = QuantizationParams

    def hooks(self) -> TrainingHooks:
        return _Quantized(self.params.bits)

    def after_training(self, model: nn.Module, data: Split, seed: int) -> nn.Module:
        layers = weight_layers(model)
        for layer in layers:
            quantize_weights(layer, self.params.bits)
        for layer, (low, high) in zip(layers, input_ranges(model, layers, data.x), strict=True):
            model = _replace(model, layer, nn.Sequential(QuantizedInput(low, high, self.params.bits), layer))
        return model.eval()
