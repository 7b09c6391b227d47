"""``mulfree sim`` on a trained digits CNN, on Verilator and Icarus, real test images."""

import pytest
from trained_cnn_sim import DIGITS_CNN_FOLDING, check_trained_cnn, train_digits_cnn


@pytest.fixture(scope="module")
def digits_cnn_path(tmp_path_factory):
    return train_digits_cnn(tmp_path_factory)


@pytest.mark.slow
def test_sim_checks_a_trained_digits_cnn_on_verilator(tmp_path, digits_cnn_path):
    qnet, entry = check_trained_cnn(tmp_path, digits_cnn_path, "verilator", 40,
                                    DIGITS_CNN_FOLDING)
    assert qnet.meta["agreement"]["qnet_accuracy"] >= 0.8  # trained: 90 % measured
    # conv2 at PE 4, SIMD 8: 16 positions x 4 x 9 folds, plus one cycle per output row
    assert entry["cycles_per_image"] == 584


@pytest.mark.slow
@pytest.mark.needs_icarus
def test_sim_checks_a_trained_digits_cnn_on_icarus(tmp_path, digits_cnn_path):
    check_trained_cnn(tmp_path, digits_cnn_path, "icarus", 6, DIGITS_CNN_FOLDING)
