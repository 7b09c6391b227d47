"""SGD with momentum, Adam, exponential decay: values by hand."""

import numpy as np
import pytest

from golden_model.errors import MulfreeError
from golden_model.layer import Parameter
from golden_model.optimizers import (
    SGD,
    Adam,
    default_learning_rates,
    exponential_decay,
    make_optimizer,
)


def test_sgd_momentum_by_hand():
    p = Parameter("w", np.array([1.0, 2.0], np.float32), lr_scale=2.0)
    opt = SGD([p], momentum=0.5)
    p.grad[...] = [1.0, -1.0]
    opt.step(0.1)  # v = -0.2 * g
    np.testing.assert_allclose(p.value, [0.8, 2.2], rtol=1e-6)
    opt.step(0.1)  # v = 0.5 v - 0.2 g
    np.testing.assert_allclose(p.value, [0.5, 2.5], rtol=1e-6)


def test_adam_first_steps_are_lr_times_sign():
    p = Parameter("w", np.zeros(3, np.float32), lr_scale=10.0)
    opt = Adam([p])
    p.grad[...] = [0.5, -3.0, 0.0]
    opt.step(0.01)
    np.testing.assert_allclose(p.value, [-0.1, 0.1, 0.0], rtol=1e-4)
    opt.step(0.01)
    np.testing.assert_allclose(p.value, [-0.2, 0.2, 0.0], rtol=1e-4)


def test_adam_minimises_a_quadratic():
    p = Parameter("w", np.array([3.0, -2.0], np.float32))
    opt = make_optimizer("adam", [p])
    for _ in range(500):
        p.grad[...] = 2 * p.value
        opt.step(0.05)
    assert np.all(np.abs(p.value) < 1e-2)


def test_exponential_decay():
    lr = exponential_decay(0.1, 0.001, 3)
    np.testing.assert_allclose(lr, [0.1, 0.01, 0.001])
    assert exponential_decay(0.1, 0.001, 1).tolist() == [0.1]
    assert len(exponential_decay(0.1, 0.001, 0)) == 0
    # a training run's schedule: thousands of steps, monotone, exact ends
    lr = exponential_decay(0.003, 0.00003, 25320)
    assert lr[0] == 0.003 and lr[-1] == pytest.approx(0.00003) and np.all(np.diff(lr) < 0)


def test_unknown_optimizer():
    with pytest.raises(MulfreeError, match="optimizer 'rmsprop'"):
        make_optimizer("rmsprop", [])


def test_default_learning_rates_follow_the_number_of_updates():
    # long runs: at most 25 / updates (a bounded total walk of each weight)
    start, end = default_learning_rates(25000)
    assert start == pytest.approx(0.001) and end == pytest.approx(0.00001)
    assert default_learning_rates(100000)[0] == pytest.approx(0.00025)
    # shorter runs: 1 / sqrt(updates), 0.003 * sqrt(25000 / updates) (but at most 0.03)
    assert default_learning_rates(2500)[0] == pytest.approx(0.003 * np.sqrt(10))
    assert default_learning_rates(630)[0] == pytest.approx(0.003 * np.sqrt(25000 / 630))
    assert default_learning_rates(250) == pytest.approx((0.03, 0.0003))
    assert default_learning_rates(10) == default_learning_rates(0) == pytest.approx((0.03, 0.0003))
