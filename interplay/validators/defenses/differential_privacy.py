"""Differentially private training: DP-SGD (Abadi et al. 2016) through Opacus, to a target epsilon."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from opacus import PrivacyEngine
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.validators import ModuleValidator

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.models import build_model, is_builtin
from interplay.validators.needs import ProbeUnsupported
from interplay.validators.params import param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks

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
        history = self.engine.accountant.history
        return {
            "epsilon": _epsilon(tuple(history), self.delta),
            "delta": self.delta,
            "max_grad_norm": self.clip,
            "noise_multiplier": history[-1][0] if history else None,
        }


@dataclass(frozen=True)
class DifferentialPrivacyParams:
    epsilon: float = param(2.0, "target privacy budget epsilon (RDP accountant); the noise is searched to reach it")
    delta: float = param(1e-5, "target delta")
    clip: float = param(1.0, "per-sample gradient clipping norm (max_grad_norm)")


@register_defense("differential-privacy")
class DifferentialPrivacy(DefensePlugin):
    """DP-SGD (Abadi et al. 2016) through Opacus, to a target epsilon."""

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
