"""Offline tasks: a factor-controlled synthetic tabular generator, sklearn's digits and UCI Adult (a user's own
files: :mod:`.user_data`).

Every task has three disjoint splits drawn from one distribution: ``train`` (the target model's
training set, the members), ``test`` (held out: utility, non-members, fairness and evasion) and
``aux`` (the adversary's own population data, e.g. for reference models or attribute-inference
attacks). Each split carries features ``x``, label ``y`` and a binary sensitive attribute ``s``
(``s = 1`` is the minority group); ``s`` is never a model input.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interplay.errors import UsageError

ADULT_ENV = "INTERPLAY_ADULT_DIR"
ADULT_FILES = ("adult.data", "adult.test")
ADULT_URL = "https://archive.ics.uci.edu/dataset/2/adult"
DATASETS = ("synthetic", "digits", "adult", "fashion-mnist")
FILE_DATASETS = ("adult", "fashion-mnist")  # read from files (--data-path), not generated or bundled


class DataError(UsageError, ValueError):
    """A dataset that cannot be loaded (unknown name, missing file); the message says what to do."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor
    y: torch.Tensor
    s: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray | slice) -> Split:
        return Split(self.x[idx], self.y[idx], self.s[idx])

    def row_keys(self) -> list[bytes]:
        """One key per record (its features and label), to tell which records two splits share."""
        x, y = self.x.reshape(len(self), -1).numpy(), self.y.numpy()
        return [x[i].tobytes() + y[i].tobytes() for i in range(len(self))]

    def shared_with(self, others: list[Split]) -> Split:
        """The records of this split that each of ``others`` also holds (this split itself when all are)."""
        kept = [set(o.row_keys()) for o in others]
        keep = [i for i, k in enumerate(self.row_keys()) if all(k in s for s in kept)]
        return self if len(keep) == len(self) else self.take(np.array(keep, dtype=np.int64))


@dataclass(frozen=True)
class Task:
    """``has_sensitive``: whether ``s`` is a real attribute (a user's file without one has ``s = 0`` throughout);
    ``info``: what a user's data was made of (columns, classes, the sensitive mapping, imputed values)."""

    name: str
    train: Split
    test: Split
    aux: Split
    n_classes: int
    input_shape: tuple[int, ...]
    bounds: tuple[float, float] | None = None  # the valid input range, where there is one
    has_sensitive: bool = True
    info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SyntheticFactors:
    """The SoK's data factors as generator knobs.

    D1 ``n_train``: training-set size. D2 ``minority_frac``: size of the rare subgroup (the tail),
    whose labelling rule differs by ``minority_shift``. D3 ``n_attributes``: total attributes.
    D4 ``n_spurious``: attributes that track the label in the majority group only (shortcuts),
    against ``n_stable`` attributes that determine it in every group. ``n_proxy`` attributes are
    correlated with the sensitive attribute, which also shifts the base rate (``base_rate_gap``).
    """

    n_train: int = 2000
    minority_frac: float = 0.2
    minority_shift: float = 1.0
    n_attributes: int = 20
    n_stable: int = 6
    n_spurious: int = 2
    n_proxy: int = 2
    spurious_strength: float = 1.0
    proxy_strength: float = 1.0
    base_rate_gap: float = 2.0
    label_noise: float = 0.1


def _to_split(x: np.ndarray, y: np.ndarray, s: np.ndarray) -> Split:
    return Split(
        torch.as_tensor(x, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.long),
        torch.as_tensor(s, dtype=torch.long),
    )


def split_sizes(n: int, n_train: int) -> tuple[int, int]:
    """The sizes of (train, test = aux) that :func:`_split3` draws from ``n`` rows: test and aux are equal and at
    most ``n_train`` each; too few rows for them is a :class:`DataError`."""
    n_rest = min(n_train, (n - n_train) // 2)
    if n_train < 1 or n_rest < 1:
        raise DataError(f"the dataset has {n} rows, too few for a training set of {n_train}")
    return n_train, n_rest


def split_indices(n: int, n_train: int, seed: int) -> list[np.ndarray]:
    """The row indices of train, test and aux: a permutation of ``n`` rows by ``seed``, cut by :func:`split_sizes`."""
    n_train, n_rest = split_sizes(n, n_train)
    idx = np.random.default_rng(seed).permutation(n)
    return [idx[:n_train], idx[n_train : n_train + n_rest], idx[n_train + n_rest : n_train + 2 * n_rest]]


def _split3(
    x: np.ndarray, y: np.ndarray, s: np.ndarray, n_train: int, seed: int, standardize: bool
) -> tuple[Split, Split, Split]:
    """Shuffle with ``seed`` into train (n_train), test and aux (n_train each at most, equal size)."""
    parts = split_indices(len(y), n_train, seed)
    if standardize:
        # An attribute constant in the training split (e.g. a rare one-hot category) is centred, not scaled:
        # dividing by a near-zero deviation would turn its few other values into outliers of size 1e6.
        mu, sd = x[parts[0]].mean(0), x[parts[0]].std(0)
        x = (x - mu) / np.where(sd > 1e-8, sd, 1.0)
    train, test, aux = (_to_split(x[p], y[p], s[p]) for p in parts)
    return train, test, aux


def synthetic(f: SyntheticFactors, seed: int) -> Task:
    """Draw a synthetic binary task; the labelling rule is fixed, the sample depends on ``seed``."""
    if f.n_stable + f.n_spurious + f.n_proxy > f.n_attributes:
        raise DataError("n_stable + n_spurious + n_proxy must not exceed n_attributes")
    concept = np.random.default_rng(12345)
    w = concept.normal(size=f.n_stable)
    w_minority = w + f.minority_shift * concept.normal(size=f.n_stable)
    rng = np.random.default_rng(seed)
    n = 3 * f.n_train
    s = (rng.random(n) < f.minority_frac).astype(np.int64)
    z = rng.normal(size=(n, f.n_stable))
    logit = np.where(s == 1, z @ w_minority, z @ w) / np.sqrt(f.n_stable) * 3 - f.base_rate_gap * (s - 0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    y = np.where(rng.random(n) < f.label_noise, 1 - y, y)
    spurious = f.spurious_strength * ((2 * y - 1) * (1 - s))[:, None] + rng.normal(size=(n, f.n_spurious))
    proxy = f.proxy_strength * (2 * s - 1)[:, None] + rng.normal(size=(n, f.n_proxy))
    noise = rng.normal(size=(n, f.n_attributes - f.n_stable - f.n_spurious - f.n_proxy))
    x = np.concatenate([z, spurious, proxy, noise], axis=1)
    train, test, aux = _split3(x, y, s, f.n_train, seed, standardize=True)
    return Task("synthetic", train, test, aux, 2, (f.n_attributes,))


def digits(n_train: int, seed: int) -> Task:
    """sklearn's bundled 8x8 digits in [0, 1]; ``s`` = above-median ink (a trait tied to pixels and label)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    ink = x.sum(1)
    s = (ink > np.median(ink)).astype(np.int64)
    train, test, aux = _split3(x.reshape(-1, 1, 8, 8), d.target.astype(np.int64), s, n_train, seed, standardize=False)
    return Task("digits", train, test, aux, 10, (1, 8, 8), bounds=(0.0, 1.0))


def default_adult_dir() -> Path:
    """``$INTERPLAY_ADULT_DIR``, else ``../shared/data/adult`` next to the repository."""
    if os.environ.get(ADULT_ENV):
        return Path(os.environ[ADULT_ENV])
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "adult"


def _adult_files(directory: Path) -> list[Path]:
    """The Adult files in ``directory``; a :class:`DataError` saying what to do when one is missing."""
    missing = [f for f in ADULT_FILES if not (directory / f).is_file()]
    if missing:
        raise DataError(
            f"UCI Adult not found: {', '.join(str(directory / f) for f in missing)} missing. Download "
            f"adult.data and adult.test from {ADULT_URL} into that folder, or point --data-path "
            f"(or ${ADULT_ENV}) at the folder that holds them."
        )
    return [directory / f for f in ADULT_FILES]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


# Digests of data files by (resolved path, mtime, size): a configuration's key reads them at no cost.
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of the contents of ``path`` (read once per path, modification time and size)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(_read_bytes(path)).hexdigest()
    return _DIGESTS[key]


def adult_digest(data_path: Path | str | None = None) -> str:
    """SHA-256 of the contents of the Adult files that :func:`adult` would read (``data_path``, else
    :func:`default_adult_dir`): the data a configuration's results depend on, wherever it is."""
    digest = hashlib.sha256()
    for path in _adult_files(Path(data_path) if data_path else default_adult_dir()):
        digest.update(f"{path.name}:{file_digest(path)};".encode())
    return digest.hexdigest()


ADULT_NUMERIC = (0, 2, 4, 10, 11, 12)  # age, fnlwgt, education-num, capital-gain, capital-loss, hours-per-week
ADULT_LABELS = ("<=50K", ">50K")  # adult.test writes them with a trailing full stop


def _adult_rows(path: Path) -> list[list[str]]:
    """The complete rows of one Adult file (rows with a missing value, ``?``, are skipped, as in the SoK).
    A line that is no Adult row raises a :class:`DataError` naming the file and the line."""
    try:
        text = _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UCI Adult file (not UTF-8 text: {exc.reason} at byte {exc.start})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("|"):  # blank lines; adult.test's first line "|1x3 Cross validator"
            continue
        cells = [c.strip() for c in line.split(",")]
        where = f"{path}, line {number}"
        if len(cells) != 15:
            raise DataError(f"{where}: expected 15 comma-separated fields of a UCI Adult row, found {len(cells)}")
        if "?" in cells:
            continue
        for c in ADULT_NUMERIC:
            try:
                float(cells[c])
            except ValueError:
                raise DataError(f"{where}: field {c + 1} should be a number, not {cells[c]!r}") from None
        if cells[14].rstrip(".") not in ADULT_LABELS:
            raise DataError(f"{where}: the income field should be <=50K or >50K, not {cells[14]!r}")
        rows.append(cells)
    if not rows:
        raise DataError(f"{path}: no UCI Adult rows (the file is empty or every row has a missing value)")
    return rows


def _read_adult(directory: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Features (fnlwgt dropped; race and sex never inputs), income > 50K, and the raw sex and race columns."""
    rows = [row for path in _adult_files(directory) for row in _adult_rows(path)]
    a = np.array(rows, dtype=object)
    numeric = [0, 4, 10, 11, 12]  # age, education-num, capital-gain, capital-loss, hours-per-week
    categorical = [1, 3, 5, 6, 7, 13]  # fnlwgt (2) dropped; race (8) and sex (9) kept out of the inputs
    cols = [a[:, numeric].astype(np.float64)]
    for c in categorical:
        values = np.unique(a[:, c])
        cols.append((a[:, c][:, None] == values[None, :]).astype(np.float64))
    y = np.array([v.startswith(">50K") for v in a[:, 14]], dtype=np.int64)
    return np.concatenate(cols, axis=1), y, {"sex": a[:, 9].astype(str), "race": a[:, 8].astype(str)}


def _f_scores(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ANOVA F scores (sklearn's f_classif) with attributes constant in the sample scored 0, not NaN."""
    import warnings

    from sklearn.feature_selection import f_classif

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        f, p = f_classif(x, y)
    return np.nan_to_num(f), np.nan_to_num(p, nan=1.0)


# The minority value of each sensitive attribute (s = 1).
ADULT_SENSITIVE = {"sex": "Female", "race": "Black"}


def adult(
    n_train: int,
    seed: int,
    data_path: Path | None = None,
    k: int | None = None,
    races: tuple[str, ...] | None = None,
    sensitive: tuple[str, ...] = ("sex",),
) -> Task:
    """UCI Adult as in the SoK's Sec. 5: income > 50K, the sensitive attribute(s) not among the inputs.

    ``races`` keeps only rows of those races (Sec. 5.1: White and Black); ``sensitive`` names the
    attributes in ``s`` (one column each when there are several); ``k`` keeps the k attributes most
    associated with the label (``SelectKBest(f_classif)``, fitted on the training split only).
    """
    x, y, attrs = _read_adult(Path(data_path) if data_path else default_adult_dir())
    unknown = [a for a in sensitive if a not in ADULT_SENSITIVE]
    if unknown:
        raise DataError(f"unknown Adult sensitive attribute(s) {unknown}; choose from {', '.join(ADULT_SENSITIVE)}")
    keep = np.isin(attrs["race"], races) if races else np.ones(len(y), bool)
    s = np.stack([(attrs[a][keep] == ADULT_SENSITIVE[a]).astype(np.int64) for a in sensitive], axis=1)
    train, test, aux = _split3(x[keep], y[keep], s[:, 0] if len(sensitive) == 1 else s, n_train, seed, standardize=True)
    if k is not None:
        from sklearn.feature_selection import SelectKBest

        if not 0 < k <= x.shape[1]:
            raise DataError(f"Adult has {x.shape[1]} attributes; k must be between 1 and that, not {k}")
        cols = torch.from_numpy(SelectKBest(_f_scores, k=k).fit(train.x.numpy(), train.y.numpy()).get_support())
        train, test, aux = (Split(p.x[:, cols], p.y, p.s) for p in (train, test, aux))
    return Task("adult", train, test, aux, 2, (train.x.shape[1],))
