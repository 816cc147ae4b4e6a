"""A user's own data as a task: tabular files (``csv:PATH``, ``parquet:PATH``) and arrays (``npz:PATH``).

Tabular files: ``label`` names the column to predict (encoded 0..K-1 in sorted order of its values), ``sensitive``
an optional binary column (``s = 1`` is the smaller group; never a model input), ``drop`` columns to leave out.
Every other column is an input: numbers are imputed with the training split's median and standardized on the
training split (scikit-learn's ``SimpleImputer`` and ``StandardScaler``), other columns are one-hot encoded over
the values the file holds, a missing value imputed with the training split's most frequent one. Rows without a
label (or without a sensitive value) are dropped; blank lines are skipped. What was done is counted in
``Task.info``, which the result document carries as ``data``.

Arrays: an ``.npz`` with ``x`` (N x D, or N x C x H x W images; values in [0, 1] on images give ``bounds`` (0, 1)),
``y`` (N labels, encoded 0..K-1 in sorted order) and optionally ``s`` (N binary values, used as given when they are
0 and 1, else ``s = 1`` is the smaller group); the arrays are used as they are (no imputation, no scaling).

Both are split by :func:`~interplay.validators.data.split_indices`, as the built-in loaders are: ``n_train`` training
rows, then test and aux (the adversary's population data) of equal size, at most ``n_train`` each.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.util
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from interplay.validators.data import DataError, Task, _split3, _to_split, file_digest, split_indices, split_sizes

USER_KINDS = ("csv", "parquet", "npz")
MAX_CLASSES = 100  # a label with more distinct values is taken for a number to regress, not a class
MAX_CATEGORIES = 200  # a text column with more distinct values (an identifier, free text) is refused, not one-hot
MIN_ROWS = 30  # train, test and aux of at least 10 rows each
PARQUET_ENGINES = ("pyarrow", "fastparquet")


@dataclass(frozen=True)
class DataSource:
    """A user's data file and the column choices (the path is absolute; the hash covers the file's contents)."""

    kind: str
    path: str
    label: str | None = None
    sensitive: str | None = None
    drop: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """How documents name the data: ``csv:FILE`` (the file name, not the folder)."""
        return f"{self.kind}:{Path(self.path).name}"

    def choices(self) -> dict[str, Any]:
        """What enters the configuration besides the file's contents."""
        return {"kind": self.kind, "label": self.label, "sensitive": self.sensitive, "drop": list(self.drop)}


def is_user_dataset(dataset: str) -> bool:
    """Whether ``dataset`` names a user's file (``csv:``, ``parquet:``, ``npz:``) rather than a built-in dataset."""
    kind, sep, _ = str(dataset).partition(":")
    return bool(sep) and kind in USER_KINDS


def parse_source(
    dataset: str, label: str | None = None, sensitive: str | None = None, drop: tuple[str, ...] = ()
) -> DataSource:
    """The :class:`DataSource` ``dataset`` (``KIND:PATH``) and the column choices name; every column choice is
    checked against the file, and a :class:`DataError` says what is wrong."""
    kind, _, raw = str(dataset).partition(":")
    if not raw.strip():
        raise DataError(f"--dataset {kind}:PATH needs the path of the file")
    path = Path(raw.strip()).expanduser()
    if path.is_dir():
        raise DataError(f"{path} is a folder; --dataset {kind}:PATH takes a file")
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    if kind == "parquet" and not any(importlib.util.find_spec(e) for e in PARQUET_ENGINES):
        raise DataError(
            f"reading {path} (parquet) needs pyarrow, which is not installed: pip install pyarrow, or save the "
            f"table as CSV and use --dataset csv:PATH"
        )
    drop = tuple(dict.fromkeys(c.strip() for c in drop if c.strip()))
    source = DataSource(kind, str(path.resolve()), label or None, sensitive or None, drop)
    if kind == "npz":
        given = [o for o, v in (("--label", label), ("--sensitive", sensitive), ("--drop", drop)) if v]
        if given:
            raise DataError(f"{', '.join(given)} name columns of csv and parquet files; an npz holds arrays x, y, s")
        arrays(source)
        return source
    columns = list(_read_table(kind, source.path, file_version(source.path))[0].columns)
    if not label:
        raise DataError(f"{source.name}: give the column to predict with --label COL (columns: {_listed(columns)})")
    for option, names in (("--label", [label]), ("--sensitive", [sensitive] if sensitive else []), ("--drop", drop)):
        for name in names:
            if name not in columns:
                same = [str(c) for c in columns if str(c).lower() == name.lower()]
                close = same or difflib.get_close_matches(name, [str(c) for c in columns], n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise DataError(f"{option}: {source.name} has no column {name!r}{hint} (columns: {_listed(columns)})")
    if sensitive == label:
        raise DataError(f"--sensitive and --label both name {label!r}; the sensitive attribute is another column")
    if label in drop or (sensitive and sensitive in drop):
        raise DataError(f"--drop names {label if label in drop else sensitive!r}, which --label or --sensitive uses")
    table(source)  # every other problem of the file, before anything is trained
    return source


def _listed(columns: list, limit: int = 20) -> str:
    names = ", ".join(map(str, columns[:limit]))
    return names + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def file_version(path: str) -> tuple[int, int]:
    """A file's (modification time, size): the caches below read a file again when it changes."""
    st = Path(path).stat()
    return st.st_mtime_ns, st.st_size


def digest(source: DataSource) -> str:
    """A digest of the file's contents and the column choices: the data a configuration's results depend on."""
    doc = {"sha256": file_digest(Path(source.path)), **source.choices()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


# --- tabular files --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _read_table(kind: str, path: str, stat: tuple[int, int]) -> tuple[Any, np.ndarray]:
    """The file as a DataFrame without its blank rows, and each row's line (CSV: the header is line 1) or row
    number (Parquet) in the file. ``stat`` (modification time, size) makes an edited file be read again."""
    import pandas as pd

    try:
        if kind == "csv":
            df = pd.read_csv(path, skip_blank_lines=False)  # blank rows kept (then dropped) so that lines count
        else:
            df = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: no header and no rows") from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1].removeprefix("Error tokenizing data. C error: ")
        raise DataError(f"{path}: cannot parse the CSV: {reason}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (ValueError, OSError, ImportError) as exc:
        raise DataError(f"{path}: cannot read it as {kind}: {exc}") from None
    first = 2 if kind == "csv" else 1
    lines = np.arange(len(df)) + first
    blank = df.isna().all(axis=1).to_numpy()
    df, lines = df[~blank].reset_index(drop=True), lines[~blank]
    if len(df) == 0:
        raise DataError(f"{path} has a header but no rows")
    return df, lines


@dataclass(frozen=True)
class Table:
    """A tabular file checked and encoded up to the preprocessing that is fitted on a training split."""

    features: Any  # DataFrame: numbers as float64, categories as str (NaN where missing)
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    y: np.ndarray
    s: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return len(self.numeric) + sum(map(len, self.categories))


def _value(v: Any) -> str:
    """A label or sensitive value as text (``1.0`` read from a column with blank rows is ``1``)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def table(source: DataSource) -> Table:
    """The checked table of ``source`` (read once per file version)."""
    return _table(source, file_version(source.path))


@functools.lru_cache(maxsize=4)
def _table(source: DataSource, stat: tuple[int, int]) -> Table:
    import pandas as pd

    df, lines = _read_table(source.kind, source.path, stat)
    where = "line" if source.kind == "csv" else "row"
    assert source.label is not None, "tabular sources have a label (parse_source)"
    keep = df[source.label].notna().to_numpy().copy()
    dropped = {"missing_label": int((~keep).sum())}
    if source.sensitive:
        missing_s = df[source.sensitive].isna().to_numpy() & keep
        dropped["missing_sensitive"] = int(missing_s.sum())
        keep &= ~missing_s
    df, lines = df[keep].reset_index(drop=True), lines[keep]
    if len(df) == 0:
        raise DataError(f"{source.name}: no row has a value in the label column {source.label!r}")

    codes, classes = pd.factorize(df[source.label], sort=True)
    names = [_value(c) for c in classes]
    if len(classes) < 2:
        raise DataError(
            f"{source.name}: the label column {source.label!r} has one class ({names[0]}); a classifier needs two"
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"{source.name}: the label column {source.label!r} has {len(classes)} distinct values; interplay "
            f"validates classifiers (at most {MAX_CLASSES} classes): bin the values or choose another column"
        )
    sensitive = None
    s = None
    if source.sensitive:
        s_codes, values = pd.factorize(df[source.sensitive], sort=True)
        if len(values) != 2:
            shown = ", ".join(_value(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
            raise DataError(
                f"{source.name}: the sensitive attribute must be binary; column {source.sensitive!r} has "
                f"{len(values)} distinct value(s) ({shown})"
            )
        counts = np.bincount(s_codes, minlength=2)
        one = 0 if counts[0] < counts[1] else 1  # s = 1 is the smaller group (the second value on a tie)
        s = (s_codes == one).astype(np.int64)
        sensitive = {"column": source.sensitive, "s1": _value(values[one]), "s0": _value(values[1 - one]),
                     "s1_rows": int(counts[one]), "s0_rows": int(counts[1 - one])}  # fmt: skip

    used = {source.label, source.sensitive, *source.drop}
    inputs = [c for c in df.columns if c not in used]
    if not inputs:
        raise DataError(f"{source.name}: no input column is left after --label, --sensitive and --drop")
    numeric, categorical, categories, features = [], [], [], {}
    for c in inputs:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            numeric.append(c)
            features[c] = col.astype("float64")
            continue
        present = col.notna().to_numpy()
        as_number = pd.to_numeric(col, errors="coerce").notna().to_numpy()
        bad = np.flatnonzero(present & ~as_number)
        if as_number.sum() >= present.sum() / 2:  # a column of numbers with a few that are not: a parsing problem
            i = bad[0]
            raise DataError(
                f"{source.path}, {where} {lines[i]}: column {c!r} holds {col.iloc[i]!r}, which is not a number, "
                f"while most of its values are numbers (leave a missing value empty)"
            )
        text = col.astype(object).map(str, na_action="ignore")
        values = tuple(sorted(set(text.dropna())))
        if len(values) > MAX_CATEGORIES:
            raise DataError(
                f"{source.name}: column {c!r} has {len(values)} distinct non-numeric values, too many to one-hot "
                f"encode (at most {MAX_CATEGORIES}); leave it out with --drop {c} or encode it as numbers"
            )
        categorical.append(c)
        categories.append(values)
        features[c] = text
    frame = pd.DataFrame(features, columns=inputs)
    missing = {str(c): int(n) for c, n in frame.isna().sum().items() if n}
    info = {
        "source": source.name,
        "kind": source.kind,
        "file": Path(source.path).name,
        "sha256": file_digest(Path(source.path)),
        "rows": len(frame),
        "rows_dropped": dropped,
        "label": {"column": source.label, "classes": names},
        "sensitive": sensitive,
        "inputs": {
            "numeric": list(map(str, numeric)),
            "categorical": list(map(str, categorical)),
            "dropped": list(source.drop),
            "features": len(numeric) + sum(map(len, categories)),
        },  # fmt: skip
        "missing": {
            "cells": sum(missing.values()),
            "by_column": missing,
            "imputed_with": "the training split's median (numbers) or most frequent value (categories)",
        },
    }
    return Table(frame, tuple(numeric), tuple(categorical), tuple(categories), codes.astype(np.int64), s, info)


def _preprocessor(t: Table) -> Any:
    """Imputation and standardization of numbers, imputation and one-hot encoding of categories (to be fitted on a
    training split); the one-hot columns cover every value the file holds, so the inputs are the same per seed."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if t.numeric:
        numbers = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
        parts.append(("numeric", numbers, list(t.numeric)))
    if t.categorical:
        onehot = OneHotEncoder(categories=[list(c) for c in t.categories], handle_unknown="ignore", sparse_output=False)
        imputer = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        parts.append(("categorical", make_pipeline(imputer, onehot), list(t.categorical)))
    return ColumnTransformer(parts, sparse_threshold=0.0)


# --- arrays ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrays:
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray | None
    n_classes: int
    bounds: tuple[float, float] | None
    info: dict[str, Any]


def arrays(source: DataSource) -> Arrays:
    """The checked arrays of ``source`` (read once per file version)."""
    return _arrays(source.path, file_version(source.path))


@functools.lru_cache(maxsize=4)
def _arrays(path: str, stat: tuple[int, int]) -> Arrays:
    name = f"npz:{Path(path).name}"
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz file (a zip archive of .npy arrays, as numpy.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as z:
            held = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not an .npz file of arrays ({exc})") from None
    if "x" not in held or "y" not in held:
        raise DataError(f"{path} needs arrays x and y (and optionally s); it holds: {', '.join(held) or 'none'}")
    x, y, s = held["x"], held["y"], held.get("s")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or x.ndim not in (2, 4):
        raise DataError(f"{name}: x must be numbers, N x D or N x C x H x W (images), not {x.dtype} {x.shape}")
    if len(x) == 0:
        raise DataError(f"{name} has no rows")
    if np.isnan(x.astype(np.float64)).any():
        raise DataError(f"{name}: x has {int(np.isnan(x.astype(np.float64)).sum())} missing values (NaN); impute them")
    for label, a in (("y", y), ("s", s)):
        if a is not None and a.shape != (len(x),):
            raise DataError(f"{name}: {label} must hold one value per row of x ({len(x)}), not shape {a.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{name}: y has one class ({_value(classes[0].item())}); a classifier needs two")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{name}: y has {len(classes)} distinct values; at most {MAX_CLASSES} classes")
    sensitive = None
    if s is not None:
        values, s_codes = np.unique(s, return_inverse=True)
        if len(values) != 2:
            raise DataError(f"{name}: s must be binary; it has {len(values)} distinct value(s)")
        counts = np.bincount(s_codes, minlength=2)
        as_given = set(values.tolist()) <= {0, 1}
        one = 1 if as_given else (0 if counts[0] < counts[1] else 1)
        s = (s_codes == one).astype(np.int64)
        sensitive = {"s1": _value(values[one].item()), "s0": _value(values[1 - one].item()),
                     "s1_rows": int(counts[one]), "s0_rows": int(counts[1 - one])}  # fmt: skip
    image = x.ndim == 4
    bounds = (0.0, 1.0) if image and x.min() >= 0 and x.max() <= 1 else None
    info = {
        "source": name,
        "kind": "npz",
        "file": Path(path).name,
        "sha256": file_digest(Path(path)),
        "rows": len(x),
        "label": {"column": "y", "classes": [_value(c.item()) for c in classes]},
        "sensitive": sensitive,
        "inputs": {"shape": list(x.shape[1:]), "bounds": list(bounds) if bounds else None},
    }
    return Arrays(x, codes.astype(np.int64), s, len(classes), bounds, info)


# --- as a task ------------------------------------------------------------------------------------------------


def n_rows(source: DataSource) -> int:
    """The rows a task of ``source`` is split from."""
    return len(arrays(source).y if source.kind == "npz" else table(source).y)


def input_shape(source: DataSource) -> tuple[int, ...]:
    """The shape of one input (after one-hot encoding, for a table)."""
    if source.kind == "npz":
        return tuple(arrays(source).x.shape[1:])
    return (table(source).n_features,)


def describe(source: DataSource, n_train: int) -> dict[str, Any]:
    """What the task of ``source`` with ``n_train`` training rows is made of (the result document's ``data``)."""
    n = n_rows(source)
    if n < MIN_ROWS:
        raise DataError(f"{source.name} has {n} usable rows; interplay needs at least {MIN_ROWS} (train, test, aux)")
    train, rest = split_sizes(n, n_train)
    info = arrays(source).info if source.kind == "npz" else table(source).info
    return {**info, "splits": {"train": train, "test": rest, "aux": rest}}


def load(source: DataSource, n_train: int, seed: int) -> Task:
    """The task of ``source``: ``n_train`` training rows, test and aux of equal size (at most ``n_train``), drawn
    with ``seed``; the preprocessing of a table is fitted on the training rows only."""
    info = describe(source, n_train)
    if source.kind == "npz":
        a = arrays(source)
        s = a.s if a.s is not None else np.zeros(len(a.y), np.int64)
        train, test, aux = _split3(a.x, a.y, s, n_train, seed, standardize=False)
        shape, n_classes, bounds, has_s = tuple(a.x.shape[1:]), a.n_classes, a.bounds, a.s is not None
    else:
        t = table(source)
        parts = split_indices(len(t.y), n_train, seed)
        x = _preprocessor(t).fit(t.features.iloc[parts[0]]).transform(t.features).astype(np.float32)
        s = t.s if t.s is not None else np.zeros(len(t.y), np.int64)
        train, test, aux = (_to_split(x[p], t.y[p], s[p]) for p in parts)
        shape, n_classes, bounds, has_s = (x.shape[1],), len(info["label"]["classes"]), None, t.s is not None
    return Task(source.name, train, test, aux, n_classes, shape, bounds, has_sensitive=has_s, info=info)
