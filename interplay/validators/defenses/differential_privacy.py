"""Differentially private training: DP-SGD (Abadi et al. 2016) through Opacus, to a target epsilon."""

from __future__ import annotations

import warnings

from opacus import PrivacyEngine

from interplay.validators.defenses.base import Defense
from interplay.validators.training import TrainingHooks


class _OpacusHooks(TrainingHooks):
    def __init__(self, epsilon: float, delta: float, clip: float, epochs: int):
        self.epsilon, self.delta, self.clip, self.epochs = epsilon, delta, clip, epochs
        self.engine = PrivacyEngine(accountant="rdp")

    def prepare(self, model, optimizer, loader):
        with warnings.catch_warnings():  # Opacus warns that secure_mode is off: fine for experiments
            warnings.simplefilter("ignore")
            return self.engine.make_private_with_epsilon(
                module=model, optimizer=optimizer, data_loader=loader, target_epsilon=self.epsilon,
                target_delta=self.delta, epochs=self.epochs, max_grad_norm=self.clip)

    def finish(self, wrapped) -> None:
        wrapped._close()  # drop Opacus' per-sample-gradient hooks from the trained model

    def metadata(self) -> dict:
        return {"epsilon": self.engine.get_epsilon(self.delta), "delta": self.delta, "max_grad_norm": self.clip,
                "noise_multiplier": self.engine.accountant.history[-1][0] if self.engine.accountant.history else None}


class DifferentialPrivacy(Defense):
    slug = "differential-privacy"

    def hooks(self) -> TrainingHooks:
        s = self.settings
        return _OpacusHooks(s.dp_epsilon, s.dp_delta, s.dp_clip, s.train.epochs)
