"""A tiny Fashion-MNIST look-alike written as the four IDX files, for tests that must not need the real data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from interplay.validators.fashion_mnist import FILES


def idx_bytes(a: np.ndarray) -> bytes:
    """``a`` (unsigned bytes) as an IDX file: magic 0x0000 0x08 ndim, big-endian dimensions, the values."""
    head = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return head + np.ascontiguousarray(a, dtype=np.uint8).tobytes()


def write_sample(folder: Path, n_train: int = 900, n_test: int = 100, gz: bool = True, seed: int = 0) -> Path:
    """Images whose class is a bright square at a class-specific place (learnable), plus noise; returns ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for (stem, _), n in zip(FILES, (n_train, n_train, n_test, n_test), strict=True):
        if "labels" in stem:
            continue
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):
            r, col = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
            x[i, r : r + 5, col : col + 5] = 250
        for name, a in ((stem, x), (stem.replace("images-idx3", "labels-idx1"), y)):
            data = idx_bytes(a)
            (folder / (f"{name}.gz" if gz else name)).write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return folder
