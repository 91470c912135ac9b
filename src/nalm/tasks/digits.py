"""Handwritten digit images: scikit-learn's bundled 8×8 digits, or MNIST from IDX files.

Nothing is downloaded. By default the images are scikit-learn's 1,797 digits (8×8, shipped with
the package); a user who has the four standard MNIST files points :func:`load_mnist` (or
``--mnist-dir``) at their directory. Either way the training and test images come from disjoint
splits, and pixel values are scaled to [0, 1].

The IDX format (LeCun et al.): a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then NDIM
big-endian 32-bit sizes, then the values, big-endian. :func:`read_idx` reads it with one-sentence
errors for files that are truncated or are not IDX.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import NalmError

# IDX type byte → (numpy big-endian dtype, name)
IDX_TYPES = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed when the name ends in ``.gz``).

    Raises:
        NalmError: the file is missing, shorter than its header, has a wrong magic number or
            an unknown type byte, or holds fewer values than its header promises.

    Examples:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "labels-idx1-ubyte")
        ...     _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        ...     read_idx(p).tolist()
        [7, 2, 1]
    """
    name = str(path)
    try:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NalmError(f"cannot read {name}: no such file") from None
    except (OSError, EOFError, zlib.error) as e:
        raise NalmError(f"cannot read {name}: {e}") from None
    if len(data) < 4:
        raise NalmError(f"{name} is not an IDX file: it has {len(data)} bytes, fewer than a header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise NalmError(
            f"{name} is not an IDX file: its magic number is {data[:4].hex()}, expected "
            "0000 then a type byte (08, 09, 0b, 0c, 0d or 0e) and the number of dimensions"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise NalmError(
            f"{name} is truncated: its header needs {header} bytes, the file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[type_code][0])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header < expected:
        raise NalmError(
            f"{name} is truncated: its header promises {expected} bytes of "
            f"{IDX_TYPES[type_code][1]} values {tuple(shape)}, the file has {len(data) - header}"
        )
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (used to make small test files)."""
    array = np.asarray(array)
    codes = {np.dtype(v[0]).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise NalmError(f"IDX has no type for {array.dtype}")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.astype(IDX_TYPES[code][0]).tobytes())
    return Path(path)


@dataclass(frozen=True)
class DigitImages:
    """Digit images split into disjoint training and test sets.

    Attributes:
        train_x, test_x: ``(N, H·W)`` float32 pixels in [0, 1].
        train_y, test_y: ``(N,)`` int64 labels 0–9.
        shape: ``(H, W)``.
        source: where the images came from.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    shape: tuple[int, int]
    source: str

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def load_sklearn_digits(test_fraction: float = 0.3, seed: int = 0) -> DigitImages:
    """scikit-learn's bundled 8×8 digits (1,797 images), split at random into disjoint sets."""
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise NalmError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    source = f"scikit-learn digits 8x8 ({len(train)} train / {len(test)} test, split seed {seed})"
    return DigitImages(x[train], y[train], x[test], y[test], (8, 8), source)


def _find(directory: Path, stem: str) -> Path:
    candidates = [
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ]
    for candidate in candidates:
        if (directory / candidate).is_file():
            return directory / candidate
    raise NalmError(
        f"{directory} has no {stem} (or {stem}.gz): the MNIST directory needs the four standard "
        f"files {', '.join(MNIST_FILES.values())}"
    )


def load_mnist(directory: str | Path) -> DigitImages:
    """MNIST from the four standard IDX files in ``directory`` (plain or ``.gz``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NalmError(f"--mnist-dir {directory} is not a directory")
    arrays = {key: read_idx(_find(directory, stem)) for key, stem in MNIST_FILES.items()}
    parts = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = directory / MNIST_FILES[f"{split}_images"]
        if images.ndim != 3:
            raise NalmError(f"{where} holds an array of {images.ndim} dimensions, not images")
        if labels.ndim != 1 or len(labels) != len(images):
            raise NalmError(
                f"{directory}: {len(images)} {split} images but {labels.size} {split} labels"
            )
        if not len(images):
            raise NalmError(f"{where} holds no images")
        if labels.min() < 0 or labels.max() > 9 or not np.array_equal(labels, labels.round()):
            raise NalmError(f"{directory}: the {split} labels are not digits 0-9")
        scale = 255.0 if images.dtype == np.uint8 else max(float(images.max()), 1.0)
        x = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32) / scale
        parts += [x, torch.tensor(labels, dtype=torch.int64)]
    shape = tuple(int(v) for v in arrays["train_images"].shape[1:])
    if tuple(arrays["test_images"].shape[1:]) != shape:
        raise NalmError(
            f"{directory}: the training images are {shape[0]}x{shape[1]} but the test images "
            f"{arrays['test_images'].shape[1]}x{arrays['test_images'].shape[2]}"
        )
    source = f"MNIST from {directory} ({len(parts[0])} train / {len(parts[2])} test)"
    return DigitImages(*parts, shape=shape, source=source)  # type: ignore[arg-type]
