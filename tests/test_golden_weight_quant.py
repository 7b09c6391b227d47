"""Binary, ternary and power-of-two quantizers: exact edges and unbiasedness."""

import numpy as np
import pytest

from golden_model.weight_quant import binarize, pow2_round, quantized_values, ternarize

W0 = 0.25


def test_binarize_deterministic_edges():
    w = np.array([-0.3, -W0, -1e-9, 0.0, 1e-9, W0, 0.3], np.float32)
    assert binarize(w, W0).tolist() == [-1, -1, -1, 1, 1, 1, 1]
    assert binarize(w, W0).dtype == np.int8


def test_ternarize_deterministic_edges():
    half = W0 / 2
    w = np.array([-W0, -half - 1e-6, -half, 0.0, half, half + 1e-6, W0, 2 * W0], np.float32)
    assert ternarize(w, W0).tolist() == [-1, -1, 0, 0, 0, 1, 1, 1]


def test_ternarize_deterministic_keeps_typical_weights():
    # The public reference thresholds the raw weight at 0.5 and zeroes everything.
    w = np.random.default_rng(0).uniform(-W0, W0, 1000).astype(np.float32)
    assert 0.4 < np.mean(ternarize(w, W0) != 0) < 0.6


def test_stochastic_extremes_are_certain():
    rng = np.random.default_rng(1)
    w = np.array([-W0, -2 * W0, W0, 2 * W0] * 100, np.float32)
    assert binarize(w, W0, rng).tolist() == [-1, -1, 1, 1] * 100
    assert ternarize(w, W0, rng).tolist() == [-1, -1, 1, 1] * 100
    assert np.all(ternarize(np.zeros(100, np.float32), W0, rng) == 0)


@pytest.mark.parametrize("quantize", [binarize, ternarize])
def test_stochastic_weights_are_unbiased(quantize):
    rng = np.random.default_rng(2)
    w = np.linspace(-W0, W0, 21, dtype=np.float32)
    n = 20000
    samples = quantize(np.tile(w, (n, 1)), W0, rng).astype(np.float64) * W0
    # std of one sample <= W0; 5 sigma of the mean of n samples
    assert np.max(np.abs(samples.mean(axis=0) - w)) < 5 * W0 / np.sqrt(n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pow2_round_deterministic_edges(dtype):
    x = np.array([0.0, 1.0, -1.0, 1.49, 1.5, -1.5, 0.75, 0.7499, 3.0, 5.0, 6.0, 100.0, -100.0,
                  0.0625, 0.03125, 0.03124, -0.04, 0.01, -0.0], dtype)
    expected = [0, 1, -1, 1, 2, -2, 1, 0.5, 4, 4, 8, 8, -8, 0.0625, 0.0625, 0, -0.0625, 0, 0]
    y = pow2_round(x, None, -4, 3)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, expected)


def test_pow2_round_float32_matches_float64_path():
    x = np.random.default_rng(5).standard_normal(20000).astype(np.float32) * 4
    x[:4] = [np.float32(2.0**-130), 1e-30, 300.0, -300.0]  # subnormal, tiny, beyond k_max
    ours = pow2_round(x, None, -5, 2)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, pow2_round(x.astype(np.float64), None, -5, 2))


def test_pow2_round_other_range_and_dtype():
    x = np.array([0.2, 0.3, 40.0], np.float32)
    y = pow2_round(x, None, -2, 5)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.25, 0.25, 32.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pow2_round_stochastic_values_and_zero(dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-9, 9, 10000).astype(dtype)
    x[::7] = 0
    y = pow2_round(x, rng, -4, 3)
    assert np.all(y[::7] == 0)
    nonzero = y[y != 0]
    k = np.log2(np.abs(nonzero))
    np.testing.assert_array_equal(k, np.round(k))
    assert k.min() >= -4 and k.max() <= 3
    assert np.all(np.sign(y[y != 0]) == np.sign(x[y != 0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pow2_round_stochastic_is_unbiased_in_range(dtype):
    rng = np.random.default_rng(4)
    x = np.array([-7.0, -3.3, -0.1, 0.01, 0.05, 0.3, 1.0, 1.7, 2.5, 6.1], dtype)
    n = 40000
    samples = pow2_round(np.tile(x, (n, 1)), rng, -4, 3).astype(np.float64)
    # Each sample lies between the two neighbouring codes, so its std is below x.
    assert np.all(np.abs(samples.mean(axis=0) - x) < 5 * np.abs(x) / np.sqrt(n))


@pytest.mark.parametrize("mode, quantize", [("binary", binarize), ("ternary", ternarize)])
@pytest.mark.parametrize("seed", [None, 6])
def test_quantized_values_equal_integer_weights_times_alpha(mode, quantize, seed):
    w = np.random.default_rng(0).uniform(-1.2 * W0, 1.2 * W0, (30, 20)).astype(np.float32)
    w[0, :3] = [0.0, W0 / 2, -W0 / 2]
    rng = None if seed is None else np.random.default_rng(seed)
    values = quantized_values(w, W0, mode, 0.3, rng)
    rng = None if seed is None else np.random.default_rng(seed)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, quantize(w, W0, rng) * np.float32(0.3))
