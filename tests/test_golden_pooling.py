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
