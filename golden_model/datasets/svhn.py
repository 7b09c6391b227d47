"""SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``)."""

from pathlib import Path

import numpy as np
import scipy.io

from golden_model.errors import DatasetError

from .mat_header import declared_variables

__all__ = ["read_svhn_mat", "load_svhn_dir", "MAX_MAT_BYTES"]

#: Most bytes of arrays one ``.mat`` file may declare (SVHN's training file
#: holds about 226 MB); checked before anything is decompressed.
MAX_MAT_BYTES = 1 << 30


def read_svhn_mat(path):
    """Read one SVHN ``.mat`` file as ``(x, y)``.

    The file holds ``X`` as ``(32, 32, 3, n)`` uint8 and ``y`` as ``(n, 1)``
    with labels 1..10, where 10 means the digit 0. Returns ``x`` flattened HWC
    ``(n, 3072)`` uint8 and ``y`` int64 in 0..9.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    declared = declared_variables(path)
    total = sum(size for _, size in declared.values())
    if total > MAX_MAT_BYTES:
        arrays = ", ".join(f"{name} {dims}" for name, (dims, _) in declared.items())
        raise DatasetError(f"{path}: declares {total:,} bytes of arrays ({arrays}); expected "
                           f"at most {MAX_MAT_BYTES:,}")
    try:
        mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    except Exception as error:  # scipy raises ValueError, TypeError, OSError...
        raise DatasetError(f"{path}: not a readable MATLAB .mat file: {error}") from None
    if "X" not in mat or "y" not in mat:
        raise DatasetError(f"{path}: expected variables 'X' and 'y'")
    x, y = mat["X"], mat["y"].reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise DatasetError(f"{path}: 'X' is {x.dtype} {x.shape}; expected uint8 (32, 32, 3, n)")
    if x.shape[3] != len(y):
        raise DatasetError(
            f"{path}: {x.shape[3]} images but {len(y)} labels; expected the same count"
        )
    if len(y) == 0:
        raise DatasetError(f"{path}: no images; expected at least one")
    y = _integer_labels(path, y)
    if y.min() < 1 or y.max() > 10:
        raise DatasetError(f"{path}: labels {y.min()}..{y.max()}; expected 1..10 (10 = digit 0)")
    x = np.ascontiguousarray(x.transpose(3, 0, 1, 2)).reshape(len(y), -1)
    return x, y % 10


def _integer_labels(path, y):
    """``y`` as int64; the published files store whole numbers as doubles."""
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(y) & (y == np.round(y))
        if whole.all():
            return y.astype(np.int64)
        bad = float(y[~whole][0])
        raise DatasetError(f"{path}: label {bad} is not a whole number; expected "
                           "integer labels 1..10 (10 = digit 0)")
    raise DatasetError(f"{path}: 'y' holds {y.dtype} values; expected integer labels "
                       "1..10 (10 = digit 0)")


def load_svhn_dir(directory):
    """Load ``(x_train, y_train, x_test, y_test)`` from a directory of .mat files."""
    directory = Path(directory)
    x_train, y_train = read_svhn_mat(directory / "train_32x32.mat")
    x_test, y_test = read_svhn_mat(directory / "test_32x32.mat")
    return x_train, y_train, x_test, y_test
