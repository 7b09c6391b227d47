"""Softmax cross-entropy and squared hinge: values and gradients."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.errors import MulfreeError
from golden_model.losses import get_loss, softmax_cross_entropy, squared_hinge


def test_cross_entropy_values():
    loss, grad = softmax_cross_entropy(np.zeros((2, 4), np.float32), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4))
    np.testing.assert_allclose(grad, [[-0.375, 0.125, 0.125, 0.125],
                                      [0.125, 0.125, 0.125, -0.375]], rtol=1e-6)
    big, _ = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)  # stable for large logits


def test_squared_hinge_values():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, -3.0, 0.2]])
    loss, grad = squared_hinge(logits, np.array([0, 2]))
    # row 0: margins 0, 1.5, 0 -> 2.25; row 1: 1, 0, 0.8 -> 1 + 0.64
    assert loss == pytest.approx((2.25 + 1.64) / 2)
    np.testing.assert_allclose(grad, [[0, 1.5, 0], [1.0, 0, -0.8]])


@pytest.mark.parametrize("loss_fn", [softmax_cross_entropy, squared_hinge])
def test_gradients_match_finite_differences(loss_fn):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    _, grad = loss_fn(logits, labels)
    np.testing.assert_allclose(grad, numeric_grad(lambda: loss_fn(logits, labels)[0], logits,
                                                  1e-6), rtol=1e-4, atol=1e-7)


def test_lookup():
    assert get_loss("hinge") is squared_hinge
    with pytest.raises(MulfreeError, match="loss 'mse'"):
        get_loss("mse")
