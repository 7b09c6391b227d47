"""Inverted dropout."""

import numpy as np
import pytest

from golden_model.dropout import Dropout
from golden_model.layer import EVAL, RunMode


def test_identity_at_evaluation():
    x = np.arange(6, dtype=np.float32)
    assert Dropout(0.5).forward(x, EVAL) is x


def test_training_drops_and_rescales():
    d = Dropout(0.25)
    x = np.ones((200, 100), np.float32)
    y = d.forward(x, RunMode(train=True, rng=np.random.default_rng(0)))
    assert set(np.unique(y)) == {0, np.float32(4 / 3)}
    assert abs(np.mean(y == 0) - 0.25) < 0.01
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)


def test_bad_probability():
    with pytest.raises(ValueError):
        Dropout(1.0)
