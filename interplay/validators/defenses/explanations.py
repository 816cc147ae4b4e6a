"""Model explanations: the deployment releases gradient-based attributions (Captum) alongside its predictions.

The model is trained exactly as the baseline; the defense adds the observable ``explanations``, an
:class:`Explainer` that attributes each record's predicted class to its input features with Integrated
Gradients, SmoothGrad (a noise tunnel over Integrated Gradients, sigma 0.02 and 4 samples, as in the
SoK's Sec. 5.2) or DeepLift. Attributions start from an all-zeros baseline (the standardized population
mean; a blank image for digits) rather than the training mean the SoK used: the training mean is itself
a statistic of the training data and would leak its distribution whatever the model learned.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import torch
from captum.attr import DeepLift, IntegratedGradients, NoiseTunnel
from torch import nn

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import logits

METHODS = ("integrated-gradients", "smoothgrad", "deeplift")
IG_STEPS = 16


@dataclass(frozen=True)
class Explainer:
    """The released explanation API of ``model``: ``explainer(x)`` gives attributions shaped like ``x``.

    An adversary who knows the method explains its own (shadow) models the same way: ``for_model(m)``.
    """

    model: nn.Module
    method: str

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown explanation method {self.method!r}; choose from {', '.join(METHODS)}")

    def for_model(self, model: nn.Module) -> Explainer:
        return replace(self, model=model)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        target = logits(self.model, x).argmax(1)
        # SmoothGrad's noise is drawn from a fixed seed, so the same model always gives the same explanation.
        # DeepLift unpools through max-pooling layers, which torch's deterministic mode refuses although the
        # CPU kernel is deterministic: it only warns (silenced) for the duration of the call.
        strict = torch.are_deterministic_algorithms_enabled()
        with warnings.catch_warnings(), torch.random.fork_rng():
            warnings.simplefilter("ignore")  # Captum warns about hooks on activations and about input grads
            torch.manual_seed(0)
            torch.use_deterministic_algorithms(strict, warn_only=True)
            try:
                out = self._attribute(x, target)
            finally:
                torch.use_deterministic_algorithms(strict)
        return out.detach()

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        zeros = torch.zeros_like(x)
        if self.method == "deeplift":
            return DeepLift(self.model).attribute(x, baselines=zeros, target=target)
        if self.method == "smoothgrad":
            return NoiseTunnel(IntegratedGradients(self.model)).attribute(
                x, nt_type="smoothgrad", nt_samples=4, stdevs=0.02, baselines=zeros, target=target, n_steps=IG_STEPS
            )
        return IntegratedGradients(self.model).attribute(x, baselines=zeros, target=target, n_steps=IG_STEPS)


@dataclass(frozen=True)
class ExplanationsParams(PluginParams):
    method: str = param("integrated-gradients", "the attribution method released", choices=METHODS)


@register_defense("explanations")
class Explanations(DefensePlugin):
    """The deployment releases gradient-based attributions (Captum) alongside its predictions."""

    Params = ExplanationsParams
    lowers_targets = False  # releasing attributions is an audit aid; it does not change the model

    def observables(self, model, train):
        return {"explanations": Explainer(model, self.params.method)}


def released(model: nn.Module, explainer: Explainer | None, x: torch.Tensor) -> torch.Tensor:
    """What the deployment releases about each record of ``x``: its logits, then its flattened attributions
    when explanations are exposed; one row per record."""
    parts = [logits(model, x)]
    if explainer is not None:
        parts.append(explainer.for_model(model)(x).flatten(1))
    return torch.cat(parts, 1)
