"""ReLU, TRec, TLin, identity: values at the thresholds, gradients, grid order."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.activations import Activation
from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode

TRAIN = RunMode(train=True)
Z = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], np.float32)


@pytest.mark.parametrize("kind, expected", [
    ("relu", [0, 0, 0, 0, 0.5, 1.0, 1.5]),
    ("trec", [0, 0, 0, 0, 0, 0, 1.5]),
    ("tlin", [-2.0, 0, 0, 0, 0, 0, 1.5]),
    ("linear", list(Z)),
])
def test_values_at_default_threshold(kind, expected):
    np.testing.assert_array_equal(Activation(kind).forward(Z, EVAL), expected)


def test_other_threshold():
    np.testing.assert_array_equal(Activation("tlin", 0.5).forward(Z, EVAL),
                                  [-2, -1, 0, 0, 0, 1, 1.5])
    np.testing.assert_array_equal(Activation("trec", -1.0).forward(Z, EVAL),
                                  [0, 0, -0.5, 0, 0.5, 1, 1.5])


@pytest.mark.parametrize("kind", ["relu", "trec", "tlin", "linear"])
def test_gradients_match_finite_differences(kind):
    z = np.array([-2.3, -0.7, -0.2, 0.3, 0.8, 1.2, 2.2])  # away from the kinks
    act = Activation(kind, theta=1.0)

    def loss():
        return float(np.sum(act.forward(z, EVAL) ** 2))

    y = act.forward(z, TRAIN)
    np.testing.assert_allclose(act.backward(2 * y), numeric_grad(loss, z, 1e-4), atol=1e-6)


def test_gradient_is_zero_where_off():
    act = Activation("trec", 1.0)
    act.forward(np.array([0.5, 1.0, 1.01]), TRAIN)
    np.testing.assert_array_equal(act.backward(np.ones(3)), [0, 0, 1])


def test_grid_rounding_comes_before_the_threshold():
    act = Activation("trec", theta=1.0, step=0.25)
    z = np.array([1.1, 1.125, 1.2, 0.9, -3.0], np.float32)
    # 1.1 rounds to 1.0, which is not above theta: off (the QNet order).
    np.testing.assert_array_equal(act.forward(z, TRAIN), [0, 1.25, 1.25, 0, 0])
    np.testing.assert_array_equal(act.backward(np.ones(5, np.float32)), [0, 1, 1, 0, 0])
    tlin = Activation("tlin", theta=0.5, step=0.25)
    np.testing.assert_array_equal(tlin.forward(np.array([-0.6, -0.7, 0.6], np.float32), EVAL),
                                  [0, -0.75, 0])


def test_bad_arguments():
    with pytest.raises(MulfreeError, match="activation 'sigmoid'"):
        Activation("sigmoid")
    with pytest.raises(MulfreeError, match="multiple of the activation step"):
        Activation("trec", theta=0.3, step=0.25)
