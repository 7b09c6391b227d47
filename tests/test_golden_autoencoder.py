"""Zero-bias autoencoder pre-training."""

import numpy as np
import pytest

from golden_model.activations import Activation
from golden_model.autoencoder import (
    init_dense_from_autoencoder,
    pretrain_autoencoder,
    pretrain_first_layer,
    reconstruct,
)
from golden_model.dense import Dense
from golden_model.errors import MulfreeError
from golden_model.network import NetworkConfig, build_network


def low_rank_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((3, 12))
    return (rng.standard_normal((n, 3)) @ basis).astype(np.float32)


@pytest.mark.parametrize("kind", ["trec", "tlin"])
def test_training_reduces_reconstruction_error(kind):
    x = low_rank_data()
    result = pretrain_autoencoder(x, 16, kind, theta=0.5, epochs=15, seed=1)
    assert result.W.shape == (16, 12)
    assert len(result.errors) == 16
    baseline = float(np.mean(x**2))  # error of the all-zero reconstruction
    assert result.reconstruction_error < 0.5 * baseline
    assert result.reconstruction_error < result.errors[0]
    _, r = reconstruct(x, result.W, Activation(kind, 0.5))
    assert np.mean((r - x) ** 2) == pytest.approx(result.reconstruction_error, rel=1e-5)


def test_zero_bias_tied_decoder_by_hand():
    W = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
    h, r = reconstruct(np.array([[3.0, 0.2]], np.float32), W, Activation("trec", 1.0))
    np.testing.assert_allclose(h, [[3.0, 0.0]])  # 0.4 is below the threshold
    np.testing.assert_allclose(r, [[3.0, 0.0]])


def test_init_dense_rescales_and_clips():
    dense = Dense(12, 16, "ternary")
    W = low_rank_data(16) * 100
    init_dense_from_autoencoder(dense, W)
    assert np.abs(dense.W).max() <= np.float32(dense.w0)
    assert np.all(np.sign(dense.W) == np.sign(W))
    with pytest.raises(MulfreeError, match="shape"):
        init_dense_from_autoencoder(dense, W.T)


def test_pretrain_first_layer_of_a_network():
    x = np.random.default_rng(0).integers(0, 16, (200, 8))
    net = build_network(NetworkConfig(sizes=(8, 6, 2), input_bits=4), x.mean(axis=0))
    before = net.blocks()[0].dense.W.copy()
    result = pretrain_first_layer(net, x, "tlin", 0.25, epochs=2)
    assert result.W.shape == (6, 8)
    assert not np.array_equal(before, net.blocks()[0].dense.W)
    with pytest.raises(MulfreeError, match="autoencoder activation 'relu'"):
        pretrain_autoencoder(x, 4, "relu")
