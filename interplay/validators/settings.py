"""Experiment settings per dataset, default and ``--quick``; all of them enter the configuration hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from interplay.validators import data
from interplay.validators.data import DATASETS, DataError, SyntheticFactors, Task
from interplay.validators.training import TrainSpec


@dataclass(frozen=True)
class Settings:
    """Data size, model, training and threat-model parameters of one validation.

    ``eps`` is the L-infinity budget (in input units: standardized features, or [0, 1] pixels)
    shared by adversarial training and the evasion probe, so the defense is evaluated under the
    threat model it was trained for.
    """

    dataset: str
    n_train: int
    train: TrainSpec
    synthetic: SyntheticFactors | None = None
    eps: float = 0.25
    pgd_steps_train: int = 5
    pgd_steps_attack: int = 10
    dp_epsilon: float = 2.0
    dp_delta: float = 1e-5
    dp_clip: float = 1.0
    fairness_lambda: float = 1.0
    explanation_method: str = "integrated-gradients"  # integrated-gradients, smoothgrad or deeplift
    property_ratios: tuple[float, float] = (0.5, 0.2)  # distribution inference: share of s = 1 in the two worlds
    shadow_models: int = 32  # per world, trained by the adversary (batched)
    victim_models: int = 8  # per world, trained with the deployment's recipe

    def as_dict(self) -> dict:
        return asdict(self)


def default_settings(dataset: str, quick: bool = False) -> Settings:
    """Defaults: an MLP with more parameters than training records (M1 vs D1) trained to near-zero
    training error on noisy labels with a rare subgroup (D2), the regime in which membership
    inference and subgroup disparities are known to appear (Shokri et al. 2017; Song et al. 2019;
    Bagdasaryan et al. 2019); ``quick`` halves the data and trims the epochs."""
    if dataset == "synthetic":
        n = 1000 if quick else 2000
        s = Settings(dataset, n, TrainSpec(epochs=20 if quick else 30), SyntheticFactors(n_train=n))
    elif dataset == "digits":
        s = Settings(dataset, 400 if quick else 500, TrainSpec(epochs=20 if quick else 30, batch_size=64),
                     eps=0.1)
    elif dataset == "adult":
        s = Settings(dataset, 1000 if quick else 2000, TrainSpec(epochs=15 if quick else 30),
                     eps=0.1)
    else:
        raise DataError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    return s


def load_task(s: Settings, seed: int, data_path: Path | None = None) -> Task:
    """The task ``s`` describes, split by ``seed``."""
    if s.dataset == "synthetic":
        return data.synthetic(s.synthetic, seed)
    if s.dataset == "digits":
        return data.digits(s.n_train, seed)
    return data.adult(s.n_train, seed, data_path)
