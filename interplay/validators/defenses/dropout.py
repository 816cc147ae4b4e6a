"""Dropout (Srivastava et al. 2014): during training, each hidden unit is zeroed with probability ``p`` (the rest
scaled by ``1 / (1 - p)``); the deployed model is in eval mode, every unit kept. A dropout layer follows each hidden
activation of the settings' built-in MLP or CNN, none the input or the output. Defaults chosen a priori from the
paper: ``p`` 0.5 for fully connected hidden units and ``conv_p`` 0.25 after a convolution (their convolutional nets
retain 75% of those units). A user's model is not rewritten: add dropout to it instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.models import is_builtin
from interplay.validators.needs import ProbeUnsupported
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


class _Dropped(TrainingHooks):
    def __init__(self, p: float, conv_p: float):
        self.p, self.conv_p = p, conv_p

    def metadata(self) -> dict:
        return {"dropout": self.p, "conv_dropout": self.conv_p}


@dataclass(frozen=True)
class DropoutParams(PluginParams):
    p: float = param(0.5, "drop probability of a fully connected hidden unit (Srivastava et al.: 0.5)", ge=0, lt=1)
    conv_p: float = param(0.25, "drop probability of a convolutional unit (Srivastava et al.: 0.25)", ge=0, lt=1)


@register_defense("dropout")
class Dropout(DefensePlugin):
    """Dropout (Srivastava et al. 2014): the built-in model with a dropout layer after each hidden activation."""

    Params = DropoutParams

    def check(self, task) -> None:
        capacity = self.settings.train.capacity
        if not is_builtin(capacity):
            raise ProbeUnsupported(
                f"dropout inserts dropout layers into the built-in MLP or CNN; {capacity} is a user's model, "
                f"which it cannot rewrite (build your model with dropout layers instead)"
            )

    def build(self) -> nn.Module:
        built = super().build()
        assert isinstance(built, nn.Sequential), "the built-in models are flat nn.Sequential stacks"
        layers: list[nn.Module] = []
        for layer in built:
            layers.append(layer)
            if isinstance(layer, nn.ReLU):
                conv = len(layers) > 1 and isinstance(layers[-2], nn.Conv2d)  # the activation of a convolution
                layers.append(nn.Dropout(self.params.conv_p if conv else self.params.p))
        return nn.Sequential(*layers)

    def hooks(self) -> TrainingHooks:
        return _Dropped(self.params.p, self.params.conv_p)
