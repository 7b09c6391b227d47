"""MNIST-style IDX files (``train-images-idx3-ubyte[.gz]`` and friends).

An IDX file is a big-endian header -- two zero bytes, a type code, the number
of dimensions, then one uint32 per dimension -- followed by the raw array.
"""

import gzip
import math
import struct
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


#: Largest IDX body read, in bytes. A header that announces more is refused
#: before anything is allocated; EMNIST ByClass, the largest published IDX
#: file, is about 0.55 GB.
MAX_IDX_BYTES = 1 << 30

#: Bytes decompressed per read: memory grows with the data actually present.
_CHUNK = 1 << 20


def _open(path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_at_most(file, size):
    """Up to ``size`` bytes of ``file``; never more, whatever the file expands to."""
    data = bytearray()
    while len(data) < size:
        chunk = file.read(min(_CHUNK, size - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _read_header(path, file, ndim):
    """``(shape, dtype)`` from the header, checked before the body is read."""
    head = file.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES:
        raise DatasetError(
            f"{path}: bad IDX magic number {head.hex() or '(empty file)'}; "
            f"expected 0000080{ndim} (two zero bytes, a type code, {ndim} dimensions)"
        )
    if head[3] != ndim:
        raise DatasetError(
            f"{path}: IDX file has {head[3]} dimensions; expected {ndim} "
            f"(magic 0000080{ndim})"
        )
    dims = file.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header ({4 + len(dims)} bytes)")
    shape = struct.unpack(f">{ndim}I", dims)
    if min(shape) < 1:
        raise DatasetError(
            f"{path}: the IDX header declares shape {shape}; expected at least one "
            "item and every dimension at least 1 (empty or corrupt file)"
        )
    dtype = IDX_TYPES[head[2]]
    if math.prod(shape) * dtype.itemsize > MAX_IDX_BYTES:
        raise DatasetError(
            f"{path}: the IDX header declares shape {shape}, "
            f"{math.prod(shape) * dtype.itemsize:,} bytes; expected at most "
            f"{MAX_IDX_BYTES:,} (corrupt header?)"
        )
    return shape, dtype


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
        Wrong magic number, wrong number of dimensions, a dimension of 0, a
        header announcing more than :data:`MAX_IDX_BYTES`, or a body shorter or
        longer than the header announces. At most the announced size (plus one
        byte) is ever read or decompressed.
    """
    path = Path(path)
    try:
        with _open(path) as file:
            shape, dtype = _read_header(path, file, ndim)
            size = math.prod(shape) * dtype.itemsize
            # One byte more than announced tells a longer body from an exact one.
            body = _read_at_most(file, size + 1)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable (gzip) IDX file: {error}") from None
    if len(body) < size:
        raise DatasetError(
            f"{path}: IDX body is {len(body)} bytes; the header {shape} "
            f"announces {size} (truncated or corrupt file)"
        )
    if len(body) > size:
        raise DatasetError(
            f"{path}: IDX body is longer than the {size} bytes the header {shape} "
            "announces (truncated or corrupt file)"
        )
    array = np.frombuffer(body, dtype).reshape(shape)
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
