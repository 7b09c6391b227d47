"""Batch norm: full-Jacobian gradients, running statistics, power-of-two scales."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.batchnorm import BatchNorm, round_pow2
from golden_model.layer import EVAL, RunMode

TRAIN = RunMode(train=True, rng=np.random.default_rng(0))


def test_round_pow2_edges():
    v = np.array([0.0, 1.0, -1.0, 1.41, 1.42, 3.0, -0.3, 0.7, 1e-6])
    np.testing.assert_array_equal(round_pow2(v), [0, 1, -1, 1, 2, 4, -0.25, 0.5, 2.0**-20])


def test_training_forward_normalises_with_batch_statistics():
    bn = BatchNorm(3)
    bn.gamma[...] = [1, 2, -1]
    bn.beta[...] = [0, 1, 5]
    x = np.random.default_rng(1).normal(3, 2, (50, 3)).astype(np.float32)
    y = bn.forward(x, TRAIN)
    np.testing.assert_allclose(y.mean(axis=0), [0, 1, 5], atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), [1, 2, 1], rtol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0), rtol=1e-5)


def test_evaluation_uses_running_statistics():
    bn = BatchNorm(2)
    bn.running_mean[...] = [1, -1]
    bn.running_var[...] = [4, 0.25]
    bn.gamma[...] = [2, 1]
    bn.beta[...] = [0.5, 0]
    y = bn.forward(np.array([[3.0, 0.0]], np.float32), EVAL)
    np.testing.assert_allclose(y, [[2 * 2 / np.sqrt(4 + 1e-4) + 0.5, 1 / np.sqrt(0.25 + 1e-4)]],
                               rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    bn = BatchNorm(3)
    bn.gamma[...] = rng.uniform(0.5, 2, 3)
    bn.beta[...] = rng.standard_normal(3)
    x = rng.standard_normal((6, 3))
    target = rng.standard_normal((6, 3))

    def loss():
        return 0.5 * np.sum((bn.forward(x, TRAIN) - target) ** 2)

    y = bn.forward(x, TRAIN)
    dx = bn.backward(y - target)
    gamma_grad, beta_grad = (p.grad.copy() for p in bn.parameters())
    np.testing.assert_allclose(dx, numeric_grad(loss, x, 1e-2), rtol=1e-3, atol=1e-5)
    gamma = bn.gamma.astype(np.float64)
    bn._gamma.value = gamma
    np.testing.assert_allclose(gamma_grad, numeric_grad(loss, gamma, 1e-2), rtol=1e-3)
    beta = bn.beta.astype(np.float64)
    bn._beta.value = beta
    np.testing.assert_allclose(beta_grad, numeric_grad(loss, beta, 1e-2), rtol=1e-3)


def test_shift_based_total_scale_is_a_power_of_two():
    rng = np.random.default_rng(3)
    alpha = 0.0883883
    bn = BatchNorm(50, shift_based=True, in_scale=alpha)
    bn.gamma[...] = rng.uniform(-3, 3, 50)
    bn.running_var[...] = rng.uniform(0.01, 10, 50)
    total = alpha * bn.eval_scale().astype(np.float64)
    log2 = np.log2(np.abs(total))
    np.testing.assert_allclose(log2, np.round(log2), atol=1e-6)
    assert np.all(np.sign(total) == np.sign(bn.gamma))
    exact = alpha * bn.gamma / np.sqrt(bn.running_var + bn.eps)
    assert np.all(np.abs(np.log2(np.abs(total / exact))) <= 0.5 + 1e-6)
    x = rng.standard_normal((4, 50)).astype(np.float32)
    y = bn.forward(x, EVAL)
    np.testing.assert_allclose(y, (x - bn.running_mean) * bn.eval_scale() + bn.beta, rtol=1e-6)


def test_shift_based_training_forward_uses_rounded_scale():
    bn = BatchNorm(1, shift_based=True, in_scale=1.0)
    bn.gamma[...] = 1.3
    x = np.array([[0.0], [2.0]], np.float32)  # mean 1, var 1
    y = bn.forward(x, TRAIN)
    scale = 1.0 / np.sqrt(1 + 1e-4)  # gamma/sigma = 1.3 * 0.99995 -> rounds to 1
    assert bn.applied_scale(np.float32(1.0))[0] == 1.0
    np.testing.assert_allclose(y[:, 0], [-1.0, 1.0], rtol=1e-6)
    assert scale != 1.0


def test_shift_based_backward_is_straight_through():
    """Where rounding is exact, the STE backward equals the float batch-norm backward."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 2)).astype(np.float32)
    sigma = np.sqrt(x.var(axis=0) + 1e-4)
    g = rng.standard_normal((8, 2)).astype(np.float32)
    plain, shifted = BatchNorm(2), BatchNorm(2, shift_based=True, in_scale=0.5)
    for bn in (plain, shifted):
        bn.gamma[...] = (sigma * [2.0, 0.25] / 0.5).astype(np.float32)
    np.testing.assert_allclose(shifted.applied_scale(x.var(axis=0)), [4.0, 0.5], rtol=1e-6)
    plain.forward(x, TRAIN)
    shifted.forward(x, TRAIN)
    np.testing.assert_allclose(shifted.backward(g), plain.backward(g), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(shifted.parameters()[0].grad, plain.parameters()[0].grad,
                               rtol=1e-5, atol=1e-6)


def test_feature_maps_normalise_per_channel():
    """(N, H, W, C) input: the same as the (N*H*W, C) matrix, forward and backward."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 5, 2)).astype(np.float32) * [1.0, 5.0] + [0.0, 3.0]
    g = rng.standard_normal(x.shape).astype(np.float32)
    maps, flat = BatchNorm(2), BatchNorm(2)
    train = RunMode(train=True)
    y = maps.forward(x, train)
    np.testing.assert_allclose(y, flat.forward(x.reshape(-1, 2), train).reshape(x.shape),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.reshape(-1, 2).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(maps.backward(g), flat.backward(g.reshape(-1, 2)).reshape(x.shape),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps.running_mean, flat.running_mean)


def test_max_scale_caps_the_rounded_shift_based_scale():
    norm = BatchNorm(3, shift_based=True, in_scale=0.25, max_scale=2.0)
    norm.gamma[...] = [100.0, 0.01, -100.0]
    scale = norm.applied_scale(np.ones(3, np.float32)) * 0.25
    np.testing.assert_allclose(scale, [2.0, round_pow2(0.25 * 0.01 / np.sqrt(1 + 1e-4)), -2.0],
                               rtol=1e-6)


@pytest.mark.parametrize("rows, n", [(1, 16), (7, 16), (96, 16), (3 * 28 * 28, 16), (50, 3),
                                     (64, 256), (4, 1000)])
def test_statistics_equal_the_per_feature_formulas_for_every_row_count(rows, n):
    """Rows are grouped side by side for speed; the grouping must not change a value."""
    rng = np.random.default_rng(rows + n)
    x = (rng.standard_normal((rows, n)) * rng.uniform(0.5, 3, n) + rng.uniform(-2, 2, n))
    x = x.astype(np.float32)
    g = rng.standard_normal((rows, n)).astype(np.float32)
    bn = BatchNorm(n)
    bn.gamma[...] = rng.uniform(0.5, 2, n)
    y = bn.forward(x, TRAIN)
    dx = bn.backward(g)
    x64, g64, gamma = x.astype(np.float64), g.astype(np.float64), bn.gamma.astype(np.float64)
    mean, var = x64.mean(axis=0), x64.var(axis=0)
    x_hat = (x64 - mean) / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(y, gamma * x_hat, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean, rtol=1e-4, atol=1e-6)
    expected = gamma / np.sqrt(var + bn.eps) * (
        g64 - g64.mean(axis=0) - x_hat * (g64 * x_hat).mean(axis=0))
    np.testing.assert_allclose(dx, expected, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.parameters()[0].grad, (g64 * x_hat).sum(axis=0), rtol=1e-3,
                               atol=1e-3)
    np.testing.assert_allclose(bn.parameters()[1].grad, g64.sum(axis=0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bn.forward(x, EVAL),
                               gamma * (x64 - bn.running_mean) / np.sqrt(bn.running_var + bn.eps),
                               rtol=1e-4, atol=1e-4)


# -- the output layer: powers of two up to one common factor ---------------------------------


def _output_norm(common_scale, gamma):
    bn = BatchNorm(len(gamma), shift_based=True, in_scale=0.075, common_scale=common_scale)
    bn.gamma[...] = gamma
    return bn


def test_common_scale_moves_with_gamma_where_per_feature_powers_of_two_jump():
    """The margin of the squared hinge pushes every output gamma up a little each update:
    a common factor follows smoothly, a power of two per logit sits still and then doubles."""
    var = np.array([0.3, 1.0, 2.5, 4.0], np.float32)
    start = np.array([0.7, 0.9, 1.1, 1.3], np.float32)
    growth = 1.0 + np.arange(201) * 0.005  # gamma grows by 0.5 % per step up to 2x
    for common, largest_step in ((True, 1.01), (False, 2.0)):
        scales = np.array([_output_norm(common, start * f).applied_scale(var) for f in growth])
        steps = scales[1:] / scales[:-1]
        assert steps.max() <= largest_step + 1e-6
        if common:
            # Equal to the gamma growth, apart from g's nine significant bits.
            np.testing.assert_allclose(scales[-1] / scales[0], 2.0, rtol=4e-3)
        else:
            assert steps.max() == pytest.approx(2.0)


def test_common_scale_is_g_times_powers_of_two_with_a_nine_bit_g():
    gamma = np.array([0.3, -1.7, 0.0, 2.9, 0.05], np.float32)
    var = np.array([1.0, 0.5, 1.0, 3.0, 0.01], np.float32)
    bn = _output_norm(True, gamma)
    g = bn.common_factor(var)
    raw = np.abs(bn.in_scale * gamma / np.sqrt(var + bn.eps))
    geometric_mean = np.exp2(np.mean(np.log2(raw[raw > 0])))  # the zero gamma is left out
    assert g == pytest.approx(geometric_mean, rel=1 / 512)
    mantissa, _ = np.frexp(g)
    assert mantissa * 512 == np.round(mantissa * 512)
    relative = bn.in_scale * bn.applied_scale(var).astype(np.float64) / g
    assert relative[2] == 0.0
    live = relative[relative != 0]
    np.testing.assert_allclose(np.log2(np.abs(live)), np.round(np.log2(np.abs(live))),
                               atol=1e-6)
    np.testing.assert_array_equal(np.sign(relative), np.sign(gamma))


def test_common_factor_is_one_without_shift_based_scales_or_live_gammas():
    assert _output_norm(True, np.zeros(3, np.float32)).common_factor(np.ones(3)) == 1.0
    assert _output_norm(False, np.full(3, 1.3, np.float32)).common_factor(np.ones(3)) == 1.0
    plain = BatchNorm(3, common_scale=True)
    plain.gamma[...] = 1.3
    assert plain.common_factor(np.ones(3)) == 1.0
    np.testing.assert_allclose(plain.applied_scale(np.ones(3, np.float32)), 1.3 / np.sqrt(1.0001),
                               rtol=1e-6)
