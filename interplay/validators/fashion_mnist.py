"""Fashion-MNIST (Xiao et al. 2017) from its four IDX files, as Debian's ``dataset-fashion-mnist`` installs them
(``/usr/share/datasets/fashion-mnist/``) or from ``--data-path``; read offline, never downloaded.

Each file is an IDX array (gzip-compressed or raw): a magic number (two zero bytes, the type code 0x08 for
unsigned bytes, the number of dimensions), the dimensions as big-endian 32-bit integers, then the values. Every
file is checked (magic number, dimensions, length, a ``.gz`` that is no gzip) and a problem is a
:class:`~interplay.validators.data.DataError` naming the file and the install command. The two sets (60000 and
10000 images of 28 x 28) are pooled and split by seed as the other datasets are; pixels are scaled to [0, 1].

The sensitive attribute ``s`` is a class group, a fact of the labels: footwear (Sandal 5, Sneaker 7, Ankle boot 9;
30% of the records), so that distribution inference infers a class proportion. ``s`` is a function of the label,
so attribute inference has nothing to infer beyond the label (:data:`S_FROM_LABEL` in the task's ``info``).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from interplay.validators.data import DataError, Task, _split3, file_digest

NAME = "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL = "apt-get install -y dataset-fashion-mnist"
# (stem, number of dimensions) of each file: images N x 28 x 28, labels N.
FILES = (
    ("train-images-idx3-ubyte", 3),
    ("train-labels-idx1-ubyte", 1),
    ("t10k-images-idx3-ubyte", 3),
    ("t10k-labels-idx1-ubyte", 1),
)
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FOOTWEAR = (5, 7, 9)  # s = 1
S_FROM_LABEL = "s_from_label"  # key of Task.info: s is a function of the label


HINT = f"Install Debian's package ({INSTALL}) or point --data-path at a folder holding the four IDX files"


def files(data_path: Path | str | None = None) -> list[Path]:
    """The four IDX files in ``data_path`` (else the Debian folder), each ``STEM.gz`` or ``STEM``; a
    :class:`DataError` naming the install command when one is missing."""
    directory = Path(data_path) if data_path else DEBIAN_DIR
    found: list[Path] = []
    missing: list[Path] = []
    for stem, _ in FILES:
        path = next((p for p in (directory / f"{stem}.gz", directory / stem) if p.is_file()), None)
        (found if path else missing).append(path or directory / f"{stem}.gz")
    if missing:
        raise DataError(f"Fashion-MNIST not found: {', '.join(map(str, missing))} missing. {HINT}.")
    return found


def installed() -> bool:
    """Whether Debian's package has put the four files in :data:`DEBIAN_DIR`."""
    try:
        files()
    except DataError:
        return False
    return True


def digest(data_path: Path | str | None = None) -> str:
    """SHA-256 over the contents of the four files :func:`load` reads: the data a configuration depends on."""
    h = hashlib.sha256()
    for path in files(data_path):
        h.update(f"{path.name}:{file_digest(path)};".encode())
    return h.hexdigest()


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The unsigned-byte IDX array of ``ndim`` dimensions in ``path`` (gzip or raw); a :class:`DataError` saying what
    is wrong with the file otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    bad = f"{path} is not a Fashion-MNIST IDX file"
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{bad}: a damaged or truncated gzip ({exc}). {HINT}.") from None
    elif path.suffix == ".gz":
        raise DataError(f"{bad}: its name ends in .gz but it is not gzip-compressed. {HINT}.")
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise DataError(f"{bad}: wrong magic number {raw[:4].hex() or 'empty'}, expected 000008{ndim:02x}.")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError(f"{bad}: truncated in its header. {HINT}.")
    dims = tuple(int(d) for d in np.frombuffer(raw[4:head], dtype=">u4"))
    expected = head + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its dimensions say"
        raise DataError(f"{bad}: {what} ({len(raw)} bytes, dimensions {dims} need {expected}). {HINT}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


@functools.lru_cache(maxsize=2)
def _arrays(key: str, paths: tuple[Path, ...]) -> tuple[np.ndarray, np.ndarray]:
    """All images (N x 1 x 28 x 28 in [0, 1]) and labels of the two sets, pooled; cached by the files' digest."""
    parts = [read_idx(path, ndim) for path, (_, ndim) in zip(paths, FILES, strict=True)]
    for images, labels, path in ((parts[0], parts[1], paths[0]), (parts[2], parts[3], paths[2])):
        if images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise DataError(
                f"{path}: expected 28 x 28 images, one per label; found images {images.shape} and {len(labels)} labels"
            )
        if labels.size and labels.max() >= len(CLASSES):
            raise DataError(f"{path}: labels must be 0 to 9; found {int(labels.max())}")
    x = np.concatenate([parts[0], parts[2]]).astype(np.float32)[:, None] / 255.0
    return x, np.concatenate([parts[1], parts[3]]).astype(np.int64)


def load(n_train: int, seed: int, data_path: Path | str | None = None) -> Task:
    """Fashion-MNIST split by ``seed`` into ``n_train`` training images and equal test and aux sets."""
    paths = tuple(files(data_path))
    x, y = _arrays(digest(data_path), paths)
    s = np.isin(y, FOOTWEAR).astype(np.int64)
    train, test, aux = _split3(x, y, s, n_train, seed, standardize=False)
    info = {"sensitive": "footwear (classes 5, 7, 9)", S_FROM_LABEL: True}
    return Task(NAME, train, test, aux, len(CLASSES), (1, 28, 28), bounds=(0.0, 1.0), info=info)
