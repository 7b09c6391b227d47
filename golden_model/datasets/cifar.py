"""CIFAR-10 in its python pickle batches (``data_batch_1..5``, ``test_batch``)."""

import pickle
from pathlib import Path

import numpy as np

from golden_model.errors import DatasetError

__all__ = ["load_cifar10_dir", "read_batch", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

# A batch is a dict of NumPy arrays and lists; nothing else may be rebuilt, so
# a hostile pickle cannot run code.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "bytearray"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_batch(path):
    """Read one CIFAR-10 batch as ``(x, y)``: ``(n, 3072)`` HWC uint8, int64 labels."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            batch = _ArrayUnpickler(file, encoding="bytes").load()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except Exception as error:  # a corrupt pickle can raise almost anything
        raise DatasetError(f"{path}: not a CIFAR-10 python pickle batch: {error}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path}: expected a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(
            f"{path}: b'data' is {data.dtype} {data.shape}; expected uint8 (n, 3072)"
        )
    if len(data) == 0:
        raise DatasetError(f"{path}: no images; expected at least one")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DatasetError(f"{path}: b'labels' must be a list of integers")
    if len(data) != len(labels):
        raise DatasetError(
            f"{path}: {len(data)} images but {len(labels)} labels; expected the same count"
        )
    if labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES):
        raise DatasetError(f"{path}: labels {labels.min()}..{labels.max()}; "
                           f"expected 0..{len(CIFAR10_CLASSES) - 1}")
    # Stored channel-planar (CHW); the accelerator streams pixels HWC.
    hwc = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(data), -1)
    return np.ascontiguousarray(hwc), labels.astype(np.int64)


def load_cifar10_dir(directory):
    """Load ``(x_train, y_train, x_test, y_test)`` from a batch directory."""
    directory = Path(directory)
    parts = [read_batch(directory / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read_batch(directory / "test_batch")
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    return x_train, y_train, x_test, y_test
