"""Magnitude pruning with fine-tuning (Han et al. 2015, "Learning both weights and connections for efficient neural
networks"): train, remove the connections of smallest magnitude, retrain the remaining ones with the pruned ones held
at zero, and deploy the sparse model.

Han et al. set a threshold per layer; here the smallest-magnitude share ``sparsity`` of all Linear and convolution
weights together is removed (global unstructured L1, ``torch.nn.utils.prune``), so one number sets the sparsity.
Biases are kept, as in their paper. The fine-tuning is the plain recipe (Adam, the same learning rate and batches)
with the pruning mask applied in every forward pass, for ``finetune_epochs``; then the mask is made permanent.
Defaults chosen a priori: 80% sparsity, a little below the 9x-13x compression (89-92% of the weights removed) that
Han et al. reach without loss of accuracy, since these networks are far smaller; 10 fine-tuning epochs, a third of
the default 30 training epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn
from torch.nn.utils import prune

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, fit

WeightLayer = nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d


def weight_layers(model: nn.Module) -> list[WeightLayer]:
    """The Linear and convolution layers of ``model``, whose weights pruning and quantization change."""
    return [m for m in model.modules() if isinstance(m, WeightLayer)]


class _Pruned(TrainingHooks):
    def __init__(self, plugin: Pruning):
        self.plugin = plugin

    def metadata(self) -> dict:  # read after ``after_training``, which measured the sparsity
        p = self.plugin.params
        return {"sparsity": p.sparsity, "sparsity_achieved": self.plugin.achieved, "finetune_epochs": p.finetune_epochs}


@dataclass(frozen=True)
class PruningParams(PluginParams):
    sparsity: float = param(0.8, "share of the Linear/convolution weights removed (global L1 magnitude)", ge=0, lt=1)
    finetune_epochs: int = param(
        10, "epochs of the plain recipe that retrain the remaining weights after pruning", ge=1, le=100
    )


@register_defense("pruning")
class Pruning(DefensePlugin):
    """Magnitude pruning with fine-tuning (Han et al. 2015): the smallest weights removed, the rest retrained."""

    Params = PruningParams
    achieved = float("nan")  # the share of zero weights in the model last pruned

    def hooks(self) -> TrainingHooks:
        return _Pruned(self)

    def after_training(self, model: nn.Module, data: Split, seed: int) -> nn.Module:
        layers = weight_layers(model)
        weights = [(m, "weight") for m in layers]
        prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=self.params.sparsity)
        spec = replace(self.settings.train, epochs=self.params.finetune_epochs)
        fit(model, data, spec, seed, TrainingHooks())  # the mask multiplies the weights in every forward pass
        for m, name in weights:
            prune.remove(m, name)
        zeros = sum(int((m.weight == 0).sum()) for m in layers)
        self.achieved = zeros / sum(m.weight.numel() for m in layers)
        return model.eval()
