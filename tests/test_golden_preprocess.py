"""Preprocessing: mean and power-of-two scale."""

import numpy as np

from golden_model.layer import EVAL
from golden_model.preprocess import Preprocess


def test_values_and_gradient():
    p = Preprocess([1.0, 8.0], input_bits=4)
    assert p.scale == 1 / 16 and p.n_inputs == 2
    x = np.array([[0, 15], [1, 8]], np.uint8)
    np.testing.assert_array_equal(p.forward(x, EVAL), [[-1 / 16, 7 / 16], [0, 0]])
    np.testing.assert_array_equal(p.backward(np.ones((2, 2), np.float32)), np.full((2, 2), 1 / 16))
