"""Data from a notebook as a dataset the experiments take: :class:`Dataset`.

``Dataset.from_pandas(df, label=..., sensitive=..., drop=...)`` and ``Dataset.from_arrays(x, y, s=None)`` write the
data once, as a canonical file (CSV or NPZ), into a folder of the user cache directory named by the digest of its
contents (``<cache>/interplay/datasets/<digest>/``), and return a :class:`Dataset`: the spec string ``csv:PATH`` or
``npz:PATH`` that ``interplay.validate(..., dataset=...)`` and the command line's ``--dataset`` take, carrying the
label and sensitive column names for the API. The same data gives the same file, hence the same configuration
hash and the stored results. Torch-free; pandas and numpy are imported when called.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import platformdirs

from interplay.errors import UsageError


def datasets_dir() -> Path:
    """Where :class:`Dataset` writes its files: ``datasets`` in the user cache directory."""
    return Path(platformdirs.user_cache_dir("interplay")) / "datasets"


def _write(content: bytes, name: str, directory: str | Path | None) -> Path:
    """``content`` as ``<directory>/<digest>/<name>`` (written once; an existing copy is kept)."""
    folder = Path(directory) if directory else datasets_dir()
    path = folder / hashlib.sha256(content).hexdigest()[:20] / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(content)
        partial.replace(path)  # atomic: a reader never sees half a file
    return path


def _file_name(name: str, suffix: str) -> str:
    stem = "".join(c for c in str(name) if c.isalnum() or c in "-_.").strip(".") or "data"
    return f"{stem}.{suffix}"


class Dataset(str):
    """A dataset spec string (``csv:PATH``, ``npz:PATH``) with the column choices of a table (``label``,
    ``sensitive``): pass it as ``dataset=`` to :func:`interplay.validate` and the other experiment functions."""

    label: str | None
    sensitive: str | None

    def __new__(cls, spec: str, label: str | None = None, sensitive: str | None = None) -> Dataset:
        obj = super().__new__(cls, spec)
        obj.label, obj.sensitive = label, sensitive
        return obj

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("label", self.label), ("sensitive", self.sensitive)) if v)
        return f"Dataset({str(self)!r}{extra})"

    @classmethod
    def from_pandas(
        cls,
        df: Any,
        label: str,
        sensitive: str | None = None,
        drop: Iterable[str] = (),
        name: str = "data",
        directory: str | Path | None = None,
    ) -> Dataset:
        """``df`` (a pandas DataFrame) less the ``drop`` columns, as the CSV file ``<name>.csv`` (results name the
        data ``csv:<name>.csv``); ``label`` names the column to predict, ``sensitive`` an optional binary column
        (see docs/your-data.md for the preprocessing)."""
        columns = [str(c) for c in df.columns]
        drop = [drop] if isinstance(drop, str) else list(drop)
        for option, names in (("label", [label]), ("sensitive", [sensitive] if sensitive else []), ("drop", drop)):
            missing = [n for n in names if n not in columns]
            if missing:
                listed = ", ".join(columns)
                raise UsageError(f"{option}: the DataFrame has no column {missing[0]!r} (columns: {listed})")
        content = df.drop(columns=drop).to_csv(index=False).encode()
        return cls(f"csv:{_write(content, _file_name(name, 'csv'), directory)}", label, sensitive)

    @classmethod
    def from_arrays(
        cls, x: Any, y: Any, s: Any = None, name: str = "data", directory: str | Path | None = None
    ) -> Dataset:
        """Arrays as the NPZ file ``<name>.npz``: ``x`` (N x D, or N x C x H x W images), ``y`` (N labels), ``s``
        (optional, N binary values). The file is byte-for-byte the same for the same arrays (fixed zip times)."""
        import numpy as np

        arrays = {"x": np.asarray(x), "y": np.asarray(y)} | ({} if s is None else {"s": np.asarray(s)})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
            for key, a in arrays.items():
                if a.dtype == object:
                    raise UsageError(f"{key} must be an array of numbers, not of Python objects")
                member = io.BytesIO()
                np.lib.format.write_array(member, a, allow_pickle=False)
                z.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
        return cls(f"npz:{_write(buffer.getvalue(), _file_name(name, 'npz'), directory)}")
