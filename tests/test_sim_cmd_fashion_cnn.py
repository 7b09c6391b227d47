"""``mulfree sim`` on a trained fashion-mnist CNN on Verilator, real test images."""

import pytest
from trained_cnn_sim import check_trained_cnn, train_fashion_cnn


@pytest.fixture(scope="module")
def fashion_cnn_path(tmp_path_factory):
    return train_fashion_cnn(tmp_path_factory)


@pytest.mark.slow
def test_sim_checks_a_trained_fashion_mnist_cnn_on_verilator(tmp_path, fashion_cnn_path):
    qnet, entry = check_trained_cnn(tmp_path, fashion_cnn_path, "verilator", 20, "auto")
    assert tuple(qnet.input.image_shape) == (28, 28)
    # The automatic folding reaches the first window's floor: 9 pixel reads per output
    # pixel, plus one cycle per output row.
    assert entry["cycles_per_image"] == 28 * 28 * 9 + 28
    assert qnet.meta["agreement"]["qnet_accuracy"] >= 0.65  # trained: 76 % measured
