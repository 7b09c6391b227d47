"""Small CNNs trained and quantized through the CLI in seconds, for the RTL tests."""

import pytest

from golden_model.datasets import default_data_dirs
from golden_model.qnet import QNet
from mulfree import cli

#: the architecture of both: two 3x3 convolutions with 2x2 pools, a 32-unit dense layer
CNN_ARCH = "c8k3-p2-c16k3-p2-32-10"


def fashion_mnist_installed():
    """Whether the dataset-fashion-mnist files are where the loader looks by default."""
    return any((d / "train-images-idx3-ubyte.gz").is_file()
               for d in default_data_dirs("fashion-mnist"))


def train_cnn(directory, dataset, epochs, max_train=None, max_test=None):
    """Train ``CNN_ARCH`` (ternary, QB) on ``dataset`` and quantize it; the QNet's path.

    Training runs on one thread so that it takes the same few seconds on a busy machine.
    """
    if dataset == "fashion-mnist" and not fashion_mnist_installed():
        pytest.skip("the dataset-fashion-mnist Debian package is not installed")
    model = directory / f"{dataset}-cnn.npz"
    argv = ["train", "--dataset", dataset, "--arch", CNN_ARCH, "--qb", "--epochs", str(epochs),
            "--threads", "1", "--quiet", "--out", str(model)]
    if max_train is not None:
        argv += ["--max-train", str(max_train)]
    assert cli.main(argv) == 0
    argv = ["quantize", str(model)]
    if max_test is not None:
        argv += ["--max-test", str(max_test)]
    assert cli.main(argv) == 0
    path = directory / f"{dataset}-cnn.qnet.npz"
    assert QNet.load(path).input.dataset == dataset
    return path
