"""The shared experiment settings per dataset and preset (``default``, ``quick``, ``tiny``); all enter the
configuration hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from interplay.validators import data, fashion_mnist, user_data
from interplay.validators.data import DATASETS, DataError, SyntheticFactors, Task
from interplay.validators.params import check_params, coerce
from interplay.validators.training import TrainSpec
from interplay.validators.user_data import DataSource

# Paired seeds per validation. Eight rather than the minimum of five: a paired t-test on five seeds has
# four degrees of freedom, and one seed on which a defense does not generalize (e.g. the parity
# constraint on an over-fitted model) is then enough to hide a large mean effect.
DEFAULT_SEEDS, QUICK_SEEDS = 8, 3
PRESETS = ("default", "quick", "tiny")
SEEDS = {"default": DEFAULT_SEEDS, "quick": QUICK_SEEDS, "tiny": 2}
MAX_SEEDS = 1000  # evaluation seeds are 0..seeds-1; calibration pilots use seeds above (:mod:`.calibration`)
# Training rows of a user's data per preset (as Adult's), at most a third of its rows (equal train, test and aux).
USER_N_TRAIN = {"default": 2000, "quick": 1000, "tiny": 600}


@dataclass(frozen=True)
class Settings:
    """What every plugin of one validation shares: the data, the model and its training, and the plugin
    parameters set away from their defaults.

    Each plugin declares its own parameters (:mod:`.params`); ``overrides`` holds ``(plugin slug, parameter,
    value)`` triples from ``--param`` and from threat-model ``--context`` keys, and :meth:`params_for` resolves
    a plugin's parameters (its defaults, its per-dataset defaults, then the overrides).
    """

    dataset: str
    n_train: int
    train: TrainSpec
    synthetic: SyntheticFactors | None = None
    # Adult only (the SoK's Sec. 5): keep the k attributes most associated with the label (factor D3), keep
    # only some races, and name the sensitive attribute(s) in ``s``.
    adult_k: int | None = None
    adult_races: tuple[str, ...] | None = None
    adult_sensitive: tuple[str, ...] = ("sex",)
    overrides: tuple[tuple[str, str, Any], ...] = ()
    # Whether probes' attack-strength knobs are calibrated to the baseline's headroom (:mod:`.calibration`).
    calibrate: bool = True
    # A user's file (``dataset`` is then its kind: csv, parquet or npz); its path is not hashed, its contents are.
    source: DataSource | None = None

    @property
    def data_name(self) -> str:
        """How documents name the data: the dataset, or ``csv:FILE`` for a user's file."""
        return self.source.name if self.source else self.dataset

    def with_n_train(self, n_train: int) -> Settings:
        """These settings with ``n_train`` training records (the synthetic generator's too)."""
        synthetic = replace(self.synthetic, n_train=n_train) if self.synthetic else None
        return replace(self, n_train=n_train, synthetic=synthetic)

    def with_model(self, capacity: str) -> Settings:
        """These settings with the model ``capacity`` names (a preset or a spec, :mod:`.models`)."""
        return replace(self, train=replace(self.train, capacity=capacity))

    def params_for(self, plugin: Any) -> Any:
        """The parameters of ``plugin`` (a registered defense or probe class) under these settings."""
        values = dict(plugin.dataset_defaults.get(self.dataset, {}))
        values |= {key: value for slug, key, value in self.overrides if slug == plugin.slug}
        for key, value in values.items():  # named as --param names them, also for a Params without a check
            coerce(plugin.Params, key, value, f"{plugin.slug}.{key}")
        params = plugin.Params(**values)
        check_params(params, plugin.slug)
        return params

    def with_params(self, slug: str, **values: Any) -> Settings:
        """These settings with parameters of plugin ``slug`` overridden (values already typed)."""
        return self.with_overrides(tuple((slug, k, v) for k, v in values.items()))

    def with_overrides(self, overrides: tuple[tuple[str, str, Any], ...]) -> Settings:
        """These settings with ``overrides`` (``(slug, key, value)``, already typed) on top of the present ones."""
        kept = [o for o in self.overrides if o[:2] not in {x[:2] for x in overrides}]
        return replace(self, overrides=tuple(sorted([*kept, *overrides])))

    def as_dict(self) -> dict:
        """The shared settings (plugin parameters enter a configuration through each plugin used)."""
        doc = {k: v for k, v in asdict(self).items() if k not in ("overrides", "source")}
        return doc | ({"source": self.source.choices()} if self.source else {})


def default_settings(dataset: str, preset: str = "default") -> Settings:
    """The shared settings of ``dataset`` under ``preset``.

    ``default``: an MLP with more parameters than training records (M1 vs D1) trained to near-zero training
    error on noisy labels with a rare subgroup (D2), the regime in which membership inference and subgroup
    disparities are known to appear (Shokri et al. 2017; Song et al. 2019; Bagdasaryan et al. 2019).
    Fashion-MNIST: the CNN on 2000 images in batches of 64 (1000 at ``quick``).
    ``quick``: a smoke run: fewer epochs (and, for digits, Fashion-MNIST and Adult, less data; for synthetic data
    the small MLP, since DP-SGD at epsilon 2 no longer learns on fewer than 2000 records and its per-sample gradients
    dominate the time). ``tiny``: the smallest run that exercises every code path (plugin tests, the contract
    test); too small to conclude anything from. It also shrinks distribution inference's model counts and
    calibrates nothing (:mod:`.calibration`).
    """
    if preset not in PRESETS:
        raise DataError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    quick = preset == "quick"
    if preset == "tiny":  # batches of 64: DP-SGD still samples below 1 on distribution inference's subsets
        n = {"synthetic": 600, "digits": 300, "adult": 600, "fashion-mnist": 300}.get(dataset, 0)
        s = Settings(
            dataset,
            n,
            TrainSpec(epochs=8, batch_size=64),
            SyntheticFactors(n_train=n) if dataset == "synthetic" else None,
            overrides=(("distribution-inference", "shadow_models", 8), ("distribution-inference", "victim_models", 3)),
            calibrate=False,
        )
    elif dataset == "synthetic":
        train = TrainSpec(epochs=15, capacity="small") if quick else TrainSpec(epochs=30)
        s = Settings(dataset, 2000, train, SyntheticFactors(n_train=2000))
    elif dataset == "digits":
        s = Settings(dataset, 400 if quick else 500, TrainSpec(epochs=20 if quick else 30, batch_size=64))
    elif dataset == fashion_mnist.NAME:
        s = Settings(dataset, 1000 if quick else 2000, TrainSpec(epochs=20 if quick else 30, batch_size=64))
    else:
        s = Settings(dataset, 1000 if quick else 2000, TrainSpec(epochs=15 if quick else 30))
    return s


def user_settings(source: DataSource, preset: str = "default") -> Settings:
    """The shared settings of a user's file under ``preset``: Adult's for a table, digits' for images (batches of
    64), with ``USER_N_TRAIN[preset]`` training rows but at most a third of the file's rows; batches of 64 below
    1000 training rows (a batch as large as the training set would make DP-SGD's sampling rate 1)."""
    if preset not in PRESETS:
        raise DataError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    n = min(USER_N_TRAIN[preset], user_data.n_rows(source) // 3)
    images = len(user_data.input_shape(source)) == 3
    if preset == "tiny":
        tiny = default_settings("adult", "tiny")
        return replace(tiny, dataset=source.kind, n_train=n, source=source)
    quick = preset == "quick"
    if images:
        train = TrainSpec(epochs=20 if quick else 30, batch_size=64)
    else:
        train = TrainSpec(epochs=15 if quick else 30, batch_size=256 if n >= 1000 else 64)
    return Settings(source.kind, n, train, source=source)


def load_task(s: Settings, seed: int, data_path: Path | None = None) -> Task:
    """The task ``s`` describes, split by ``seed``."""
    if s.source is not None:
        return user_data.load(s.source, s.n_train, seed)
    if s.dataset == "synthetic":
        assert s.synthetic is not None, "synthetic settings carry their SyntheticFactors"
        return data.synthetic(s.synthetic, seed)
    if s.dataset == "digits":
        return data.digits(s.n_train, seed)
    if s.dataset == fashion_mnist.NAME:
        return fashion_mnist.load(s.n_train, seed, data_path)
    return data.adult(s.n_train, seed, data_path, s.adult_k, s.adult_races, s.adult_sensitive)


def data_digest(settings: Settings, data_path: str | None = None) -> str | None:
    """A digest of the data a configuration reads that the code does not generate or ship: the contents of the
    Adult files (``data_path``, else ``$INTERPLAY_ADULT_DIR`` or the default folder), of the Fashion-MNIST files
    (``data_path``, else Debian's folder), or of a user's file with its
    column choices (:func:`.user_data.digest`), None for the other datasets. Two folders holding the same files give
    the same digest; other files, another."""
    if settings.source is not None:
        return user_data.digest(settings.source)
    if settings.dataset == "fashion-mnist":
        return fashion_mnist.digest(data_path)
    return data.adult_digest(data_path) if settings.dataset == "adult" else None


def data_record(settings: Settings) -> dict:
    """``{"data": ...}``, what a user's file was made into (columns, classes, the sensitive mapping, imputed values,
    split sizes; :func:`.user_data.describe`), for a result document; empty for the built-in datasets."""
    if settings.source is None:
        return {}
    return {"data": user_data.describe(settings.source, settings.n_train)}
