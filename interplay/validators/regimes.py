"""Regimes: the conditions under which the literature's effects appear, each set by one rule fixed before any
cell ran, computed on the baseline arm alone on the calibration pilot seeds, and recorded with every result.

- ``privacy`` (the privacy columns): the baseline trained into memorization. The first (capacity, epochs) of
  :data:`PRIVACY_GRID`, cheapest first, at which the baseline's mean training accuracy over the pilot seeds
  reaches 0.99; only capacity and epochs change (the default preset reaches about 0.94, where a loss attack
  sits near chance). A user's own model (``--model``) is kept: only its epochs walk :data:`USER_EPOCHS`.
- ``disparity`` (the fairness column and subgroup attacks): a small under-represented group with its own
  labelling rule. Synthetic data: the minority is 10% of the records (``minority_frac`` 0.1; its labelling rule
  is shifted as always, ``minority_shift``). Adult: race is the sensitive attribute, on the White and Black
  records (the SoK's Sec. 5.1 subset; Black about 10% of it). Digits has no natural group, and Fashion-MNIST's
  groups are its classes (class-wise disparity): the regime changes nothing there and its record says so. On images
  the grid's capacity presets are the CNN's (:data:`~interplay.validators.models.CNN_CAPACITY`): on 2000 Fashion-MNIST
  images the medium CNN (16, 32) reaches 0.99 training accuracy at 60 epochs (test 0.85).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from interplay.errors import UsageError
from interplay.validators.calibration import BaselineScore, walk
from interplay.validators.models import CAPACITY
from interplay.validators.settings import Settings
from interplay.validators.store import ResultStore

REGIMES = ("privacy", "disparity")
# The regime of each risk's column under the literature setting (a cell's paper may declare another).
COLUMN_REGIME = {
    "membership-inference": "privacy",
    "data-reconstruction": "privacy",
    "attribute-inference": "privacy",
    "distribution-inference": "privacy",
    "discrimination": "disparity",
}
PRIVACY_GRID = (("medium", 30), ("medium", 60), ("large", 60), ("large", 120), ("xlarge", 120))
USER_EPOCHS = (30, 60, 120)
MEMORIZATION = 0.99
DISPARITY_MINORITY = 0.1


class UnknownRegime(UsageError, ValueError):
    """A regime name that is not one of :data:`REGIMES`."""


def _capacity_epochs(settings: Settings, value: tuple[str, int]) -> Settings:
    capacity, epochs = value
    return replace(settings, train=replace(settings.train, capacity=capacity, epochs=epochs))


def apply_regime(
    settings: Settings,
    regime: str,
    train_accuracy: BaselineScore,
    store: ResultStore | None = None,
    context: dict | None = None,
) -> tuple[Settings, dict[str, Any]]:
    """``settings`` under ``regime`` and the record of what the rule chose; ``train_accuracy(name, settings,
    seed)`` is the baseline's training accuracy on one pilot seed."""
    if regime == "privacy":
        trial = functools.partial(_capacity_epochs, settings)
        capacity = settings.train.capacity
        grid = PRIVACY_GRID if capacity in CAPACITY else tuple((capacity, e) for e in USER_EPOCHS)
        record = walk("regime:privacy", grid, trial, train_accuracy, (MEMORIZATION, 1.0), store, context)
        return trial(tuple(record["value"])), {"regime": regime, "metric": "train_accuracy", **record}
    if regime == "disparity":
        if settings.source is not None:
            return settings, {"regime": regime, "applied": False, "why": "a user's data is used as it is"}
        if settings.dataset == "synthetic" and settings.synthetic is not None:
            factors = replace(settings.synthetic, minority_frac=DISPARITY_MINORITY)
            return replace(settings, synthetic=factors), {"regime": regime, "minority_frac": DISPARITY_MINORITY}
        if settings.dataset == "adult":
            races, sensitive = ("White", "Black"), ("race",)
            record = {"regime": regime, "adult_races": races, "adult_sensitive": sensitive}
            return replace(settings, adult_races=races, adult_sensitive=sensitive), record
        if settings.dataset == "fashion-mnist":
            why = "its groups are the classes (class-wise accuracy disparity, Benz et al. 2021): no subgroup to shrink"
            return settings, {"regime": regime, "applied": False, "why": why}
        return settings, {"regime": regime, "applied": False, "why": f"{settings.dataset} has no natural group"}
    raise UnknownRegime(f"unknown regime {regime!r}; choose from {', '.join(REGIMES)}")
