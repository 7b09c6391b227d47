"""The :class:`Dataset` every loader returns, and the splits shared by all loaders."""

from dataclasses import dataclass

import numpy as np

from golden_model.errors import DatasetError

__all__ = ["Dataset", "split_validation", "subsample", "check_arrays"]


@dataclass(frozen=True)
class Dataset:
    """An image-classification dataset as raw unsigned integer pixels.

    Members
    -------
    name : str
        Registry name (``"digits"``, ``"mnist"``, ...).
    x_train, x_val, x_test : numpy.ndarray
        ``(n, n_inputs)`` unsigned integers (uint8 or uint16), every value
        below ``2 ** input_bits``; images are flattened row-major, colour
        images in HWC order.
    y_train, y_val, y_test : numpy.ndarray
        ``(n,)`` int64 class indices in ``[0, n_classes)``.
    input_bits : int
        ``B_in``, the width of one raw pixel.
    image_shape : tuple of int
        Shape of one image before flattening, ``(H, W)`` or ``(H, W, C)``.
    class_names : tuple of str
        One name per class, index = label.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_bits: int
    image_shape: tuple
    class_names: tuple

    @property
    def n_inputs(self):
        """Number of pixels per image (``prod(image_shape)``)."""
        return int(np.prod(self.image_shape))

    @property
    def n_classes(self):
        """Number of classes."""
        return len(self.class_names)

    @property
    def input_spec(self):
        """JSON-ready description of the input, as recorded in a QNet header."""
        return {
            "dataset": self.name,
            "input_bits": int(self.input_bits),
            "n_inputs": self.n_inputs,
            "image_shape": [int(d) for d in self.image_shape],
            "n_classes": self.n_classes,
            "class_names": list(self.class_names),
        }

    def __repr__(self):
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, n_inputs={self.n_inputs}, "
            f"input_bits={self.input_bits}, n_classes={self.n_classes})"
        )


def check_arrays(source, x, y, input_bits, n_inputs, n_classes):
    """Check one split's arrays against the dataset's contract.

    Returns ``(x, y)`` with ``y`` as int64. Raises :class:`DatasetError` naming
    ``source`` when counts, shapes or value ranges are not as expected.
    """
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise DatasetError(f"{source}: expected images of {n_inputs} pixels, got shape {x.shape}")
    if len(x) != len(y):
        raise DatasetError(
            f"{source}: {len(x)} images but {len(y)} labels; expected the same count"
        )
    if len(x) == 0:
        raise DatasetError(f"{source}: a split with no images; expected at least one")
    if x.dtype.kind != "u":
        raise DatasetError(f"{source}: expected unsigned integer pixels, got dtype {x.dtype}")
    if x.size and int(x.max()) >= 1 << input_bits:
        raise DatasetError(
            f"{source}: pixel value {int(x.max())} does not fit the dataset's "
            f"{input_bits}-bit input"
        )
    y = np.asarray(y).astype(np.int64, copy=False).reshape(-1)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise DatasetError(
            f"{source}: label values {int(y.min())}..{int(y.max())}; "
            f"expected 0..{n_classes - 1}"
        )
    return x, y


def split_validation(x, y, n_val, seed):
    """Split a training set into ``(x_train, y_train, x_val, y_val)``.

    The split is a fixed function of ``seed`` (a seeded permutation), so the
    same seed always holds out the same images.
    """
    if not 0 < n_val < len(y):
        raise DatasetError(f"cannot hold out {n_val} validation images from {len(y)}")
    order = np.random.default_rng(seed).permutation(len(y))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return x[train], y[train], x[val], y[val]


def subsample(x, y, limit, seed):
    """Keep at most ``limit`` examples, chosen by a seeded permutation (order kept)."""
    if limit is None or limit >= len(y):
        return x, y
    if limit < 1:
        raise DatasetError(f"a split limit must be at least 1, got {limit}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
    return x[keep], y[keep]
