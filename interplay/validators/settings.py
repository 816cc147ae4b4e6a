"""Experiment settings per dataset, default and ``--quick``; all of them enter the configuration hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from interplay.validators import data
from interplay.validators.data import DATASETS, DataError, SyntheticFactors, Task
from interplay.validators.training import TrainSpec

# Paired seeds per validation. Eight rather than the minimum of five: a paired t-test on five seeds has
# four degrees of freedom, and one seed on which a defense does not generalize (e.g. the parity
# constraint on an over-fitted model) is then enough to hide a large mean effect.
DEFAULT_SEEDS, QUICK_SEEDS = 8, 3


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
    # Part 2 (validators README): outlier removal, watermarking, fingerprinting, poisoning, model ownership.
    outlier_frac: float = 0.1  # share of the training set the outlier-removal defense drops
    poison_frac: float = 0.05  # share of the training set the poisoning adversary stamps and relabels
    watermark_keys: int = 50  # trigger-set size
    watermark_repeats: int = 10  # copies of the trigger set mixed into the training data
    watermark_threshold: float = 0.5  # trigger accuracy from which a suspect is judged a copy
    fingerprint_queries: int = 100
    fingerprint_margin: float = 1.0  # logit lead of the runner-up class at a fingerprint point
    fingerprint_threshold: float = 0.5  # matching rate (on conferrable points) from which a suspect is a copy
    extraction_queries: int = 1000  # the model-ownership adversary's query budget
    ownership_adversary: str = "malicious-suspect"  # or malicious-accuser (--context adversary=...)
    ownership_theft: str = "any"  # how a malicious suspect obtains its copy: extraction, fine-tuning or any (both)
    finetune_epochs: int = 10  # the fine-tuning thief's epochs on its own records (all layers, Adi et al.'s FTAL)
    explanation_method: str = "integrated-gradients"  # integrated-gradients, smoothgrad or deeplift
    property_ratios: tuple[float, float] = (0.5, 0.2)  # distribution inference: share of s = 1 in the two worlds
    shadow_models: int = 32  # per world, trained by the adversary (batched)
    victim_models: int = 8  # per world, trained with the deployment's recipe
    # Adult only (the SoK's Sec. 5): keep the k attributes most associated with the label (factor D3), keep
    # only some races, and name the sensitive attribute(s) in ``s``.
    adult_k: int | None = None
    adult_races: tuple[str, ...] | None = None
    adult_sensitive: tuple[str, ...] = ("sex",)

    def as_dict(self) -> dict:
        return asdict(self)


def default_settings(dataset: str, quick: bool = False) -> Settings:
    """Defaults: an MLP with more parameters than training records (M1 vs D1) trained to near-zero
    training error on noisy labels with a rare subgroup (D2), the regime in which membership
    inference and subgroup disparities are known to appear (Shokri et al. 2017; Song et al. 2019;
    Bagdasaryan et al. 2019). ``quick`` is a smoke run: fewer epochs (and, for digits and Adult, less
    data; for synthetic data the small MLP, since DP-SGD at epsilon 2 no longer learns on fewer than
    2000 records and its per-sample gradients dominate the time)."""
    if dataset == "synthetic":
        train = TrainSpec(epochs=15, capacity="small") if quick else TrainSpec(epochs=30)
        s = Settings(dataset, 2000, train, SyntheticFactors(n_train=2000))
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
    return data.adult(s.n_train, seed, data_path, s.adult_k, s.adult_races, s.adult_sensitive)


# Context qualifiers (the KB's ``--context KEY=VALUE``) that select a validation's threat model: the Settings
# field each sets and the values it takes. Other context keys only concern the reasoner.
CONTEXT_SETTINGS = {"adversary": ("ownership_adversary", ("malicious-suspect", "malicious-accuser")),
                    "theft": ("ownership_theft", ("any", "extraction", "fine-tuning"))}


def with_context(s: Settings, context: dict[str, str] | None) -> Settings:
    """``s`` with the threat-model qualifiers in ``context`` applied, so that they enter the configuration hash."""
    changes = {}
    for key, value in (context or {}).items():
        if key in CONTEXT_SETTINGS:
            field, allowed = CONTEXT_SETTINGS[key]
            if value not in allowed:
                raise ValueError(f"--context {key}: unknown value {value!r}; choose from {', '.join(allowed)}")
            changes[field] = value
    return replace(s, **changes)
