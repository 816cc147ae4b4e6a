"""Watermarking: a trigger-set watermark embedded during training (Adi et al. 2018).

The owner stamps its secret trigger (:mod:`interplay.validators.triggers`, a pattern of its own)
onto a share ``key_frac`` of its training records that are not of the watermark class, labels them
with that class (the content trigger set of Zhang et al. 2018), and trains on the training set plus
``repeats`` copies of the trigger set, so that every epoch sees it as Adi et al. do. The
trigger set is the watermark key, an observable: ownership is verified on a suspect model by its
trigger accuracy against ``threshold`` (:class:`~interplay.validators.ownership.OwnershipKey`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.ownership import OwnershipKey
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.triggers import make_trigger

OWNER_SALT = 20180813  # fixes the owner's tabular trigger attributes (Adi et al., USENIX Security 2018)


@dataclass(frozen=True)
class WatermarkingParams(PluginParams):
    key_frac: float = param(0.025, "trigger-set size as a share of the training set (50 records of 2000)", gt=0, le=0.5)
    repeats: int = param(10, "copies of the trigger set mixed into the training data", ge=1, le=100)
    threshold: float = param(0.5, "trigger accuracy from which a suspect model is judged a copy", ge=0, le=1)


@register_defense("watermarking")
class Watermarking(DefensePlugin):
    """A trigger-set watermark embedded during training (Adi et al. 2018)."""

    Params = WatermarkingParams
    needs = ("trigger",)  # the owner's trigger

    def watermark_key(self, train: Split, seed: int) -> OwnershipKey:
        """Stamp the owner's trigger (top-left patch; last class) onto records drawn with ``seed``."""
        trigger = make_trigger(self.task, corner=0, salt=OWNER_SALT, target=self.task.n_classes - 1)
        candidates = torch.nonzero(train.y != trigger.target).flatten()
        chosen = candidates[torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))]
        keys = trigger.triggered(train.take(chosen[: max(1, round(self.params.key_frac * len(train)))].numpy()))
        return OwnershipKey("watermark", keys.x, keys.y, self.params.threshold)

    def alter_training_data(self, train: Split, seed: int) -> Split:
        self.key = self.watermark_key(train, seed)
        r = self.params.repeats
        s = torch.zeros(len(self.key.y) * r, dtype=train.s.dtype)  # trigger inputs have no sensitive attribute
        return Split(
            torch.cat([train.x, self.key.x.repeat(r, *[1] * (train.x.dim() - 1))]),
            torch.cat([train.y, self.key.y.repeat(r)]),
            torch.cat([train.s, s]),
        )

    def observables(self, model, train) -> dict:
        return {"watermark_key": self.key}
