"""MNIST-style IDX files (``train-images-idx3-ubyte[.gz]`` and friends).

An IDX file is a big-endian header -- two zero bytes, a type code, the number
of dimensions, then one uint32 per dimension -- followed by the raw array.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from golden_model.errors import DatasetError

__all__ = ["read_idx", "find_idx", "load_idx_split"]

#: IDX type code -> big-endian dtype
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path):
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            return gzip.decompress(raw)
        return raw
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable (gzip) IDX file: {error}") from None


def read_idx(path, ndim):
    """Read one IDX file (raw or gzip) with ``ndim`` dimensions.

    Parameters
    ----------
    path : path-like
        The file; a ``.gz`` suffix means gzip-compressed.
    ndim : int
        Expected number of dimensions (1 for labels, 3 for images).

    Returns
    -------
    numpy.ndarray
        The array in native byte order.

    Raises
    ------
    DatasetError
        Wrong magic number, wrong number of dimensions, or a body shorter or
        longer than the header announces.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DatasetError(
            f"{path}: bad IDX magic number {data[:4].hex() or '(empty file)'}; "
            f"expected 0000080{ndim} (two zero bytes, a type code, {ndim} dimensions)"
        )
    if data[3] != ndim:
        raise DatasetError(
            f"{path}: IDX file has {data[3]} dimensions; expected {ndim} "
            f"(magic 0000080{ndim})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = IDX_TYPES[data[2]]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(
            f"{path}: IDX body is {len(data) - header} bytes; the header {shape} "
            f"announces {expected - header} (truncated or corrupt file)"
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def find_idx(directory, split, kind):
    """Find ``{split}-{kind}-idx?-ubyte`` (gz or raw, ``-`` or ``.`` before idx)."""
    ndim = 3 if kind == "images" else 1
    for stem in (f"{split}-{kind}-idx{ndim}-ubyte", f"{split}-{kind}.idx{ndim}-ubyte"):
        for suffix in ("", ".gz"):
            candidate = Path(directory) / (stem + suffix)
            if candidate.is_file():
                return candidate
    raise DatasetError(
        f"{directory}: no {split}-{kind}-idx{ndim}-ubyte[.gz] file; "
        "expected the four MNIST-style IDX files there"
    )


def load_idx_split(directory, split):
    """Load one split (``"train"`` or ``"t10k"``) as ``(x, y, image_shape)``.

    ``x`` is flattened to ``(n, H*W)`` uint8, ``y`` is int64.
    """
    images_path = find_idx(directory, split, "images")
    labels_path = find_idx(directory, split, "labels")
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected unsigned-byte IDX files (type code 08)")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path}: {len(images)} images but {labels_path.name} has "
            f"{len(labels)} labels; expected the same count"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64), images.shape[1:]
