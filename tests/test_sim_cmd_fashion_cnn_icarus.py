"""``mulfree sim`` on a trained fashion-mnist CNN on Icarus, real test images (a file of
its own: the longest simulation of the suite)."""

import pytest
from trained_cnn_sim import FASHION_CNN_FOLDING, check_trained_cnn, train_fashion_cnn


@pytest.fixture(scope="module")
def fashion_cnn_path(tmp_path_factory):
    return train_fashion_cnn(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.needs_icarus
def test_sim_checks_a_trained_fashion_mnist_cnn_on_icarus(tmp_path, fashion_cnn_path):
    check_trained_cnn(tmp_path, fashion_cnn_path, "icarus", 3, FASHION_CNN_FOLDING)
