"""MaxPool2D and Flatten: values, remainders, gradients."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode
from golden_model.pooling import Flatten, MaxPool2D


def test_max_pool_values_and_dropped_remainder():
    x = np.arange(5 * 5 * 2, dtype=np.float32).reshape(1, 5, 5, 2)
    x[0, 0, 0, 1] = 1000
    pool = MaxPool2D((5, 5, 2), 2)
    y = pool.forward(x, EVAL)
    assert pool.out_shape == (2, 2, 2) and y.shape == (1, 2, 2, 2)
    expected = np.array([[x[0, 0:2, 0:2, c].max(), x[0, 0:2, 2:4, c].max(),
                          x[0, 2:4, 0:2, c].max(), x[0, 2:4, 2:4, c].max()] for c in (0, 1)]).T
    np.testing.assert_array_equal(y.reshape(4, 2), expected)
    assert y[0, 0, 0, 1] == 1000


def test_max_pool_gradient_matches_finite_differences_and_skips_the_remainder():
    rng = np.random.default_rng(0)
    pool = MaxPool2D((5, 4, 3), 2)
    x = rng.standard_normal((2, 5, 4, 3))
    target = rng.standard_normal((2, 2, 2, 3))
    y = pool.forward(x, RunMode(train=True))
    dx = pool.backward(y - target)

    def loss():
        return 0.5 * np.sum((pool.forward(x, EVAL) - target) ** 2)

    np.testing.assert_allclose(dx, numeric_grad(loss, x), atol=1e-8)
    assert np.all(dx[:, 4] == 0)


def test_max_pool_tie_goes_to_the_first_position():
    pool = MaxPool2D((2, 2, 1), 2)
    pool.forward(np.ones((1, 2, 2, 1)), RunMode(train=True))
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("size", [0, 5])
def test_max_pool_bad_size(size):
    with pytest.raises(MulfreeError, match=f"max pool {size}x{size} on a 4x4 map"):
        MaxPool2D((4, 4, 1), size)


def test_flatten_is_channels_last_and_backward_restores_the_shape():
    x = np.arange(2 * 3 * 2 * 4).reshape(2, 3, 2, 4)
    flat = Flatten((3, 2, 4))
    y = flat.forward(x, EVAL)
    assert flat.out_shape == (24,)
    np.testing.assert_array_equal(y[1], x[1].reshape(-1))
    assert y[0, 1] == x[0, 0, 0, 1]  # the channel varies fastest
    np.testing.assert_array_equal(flat.backward(y), x)


def test_max_pool_tie_across_columns_goes_to_the_earlier_row_major_position():
    """Row 1 of column 0 ties with row 0 of column 1: (0, 1) comes first in row-major order."""
    pool = MaxPool2D((2, 2, 1), 2)
    y = pool.forward(np.array([3.0, 5.0, 5.0, 1.0]).reshape(1, 2, 2, 1), RunMode(train=True))
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert y.item() == 5
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize("shape, size", [((4, 4, 3), 2), ((5, 7, 2), 2), ((7, 6, 1), 3),
                                         ((3, 3, 4), 3), ((6, 5, 2), 1)])
def test_max_pool_equals_a_loop_over_windows_with_many_ties(shape, size):
    """Small integers make ties common; each window's gradient goes to its first maximum."""
    rng = np.random.default_rng(size + shape[0])
    x = rng.integers(0, 3, (3,) + shape).astype(np.float32)
    pool = MaxPool2D(shape, size)
    y = pool.forward(x, RunMode(train=True))
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = pool.backward(g)
    expected_y, expected_dx = np.zeros(y.shape, np.float32), np.zeros(x.shape, np.float32)
    for b, r, c, ch in np.ndindex(*y.shape):
        window = x[b, r * size:(r + 1) * size, c * size:(c + 1) * size, ch]
        i, j = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
        expected_y[b, r, c, ch] = window[i, j]
        expected_dx[b, r * size + i, c * size + j, ch] = g[b, r, c, ch]
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(dx, expected_dx)
