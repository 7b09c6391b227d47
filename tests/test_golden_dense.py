"""Dense layer: initialisation, quantized forward, straight-through gradients, QB."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.dense import Dense
from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode
from golden_model.weight_quant import pow2_round
from golden_model.weight_quant import ternarize as ternarize_ref


def make(mode, **kw):
    return Dense(6, 4, mode, rng=np.random.default_rng(0), **kw)


def test_init_range_clip_and_lr_scale():
    d = Dense(30, 20, "binary", rng=np.random.default_rng(0))
    w0 = np.sqrt(1.5 / 50)
    assert d.w0 == pytest.approx(w0)
    assert d.W.shape == (20, 30) and d.W.dtype == np.float32
    assert np.abs(d.W).max() <= np.float32(w0)
    assert np.mean(np.abs(d.W) == np.float32(w0)) > 0.3  # init range is 2*W0, clipped
    assert d.parameters()[0].lr_scale == 1.0  # the clip range is W0 already: no 1 / W0
    assert d.alpha == pytest.approx(w0)
    f = Dense(30, 20, "float", rng=np.random.default_rng(0))
    assert np.abs(f.W).max() > w0 and np.abs(f.W).max() <= np.sqrt(6 / 50)
    assert f.alpha == 1.0 and f.parameters()[0].lr_scale == 1.0


def test_clip_after_update():
    d = make("ternary")
    d.W[...] = 10
    d.clip_weights()
    assert np.all(d.W == np.float32(d.w0))


def test_bias_false_and_bad_mode():
    assert make("binary", bias=False).b is None
    assert len(make("binary", bias=False).parameters()) == 1
    with pytest.raises(MulfreeError, match="weight mode"):
        make("quaternary")
    with pytest.raises(MulfreeError, match="no quantized weights"):
        make("float").quantized_weights()


def test_alpha_pow2():
    d = make("ternary", alpha_pow2=True)
    assert np.log2(d.alpha) == np.round(np.log2(d.alpha))
    assert d.alpha / d.w0 < np.sqrt(2) and d.w0 / d.alpha <= np.sqrt(2)


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_evaluation_uses_deterministic_quantized_weights(mode):
    d = make(mode)
    d.b[...] = [1, 2, 3, 4]
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    wq = d.quantized_weights()
    assert wq.dtype == np.int8 and wq.shape == (4, 6)
    assert set(np.unique(wq)) <= ({-1, 1} if mode == "binary" else {-1, 0, 1})
    np.testing.assert_allclose(d.forward(x, EVAL), x @ (wq * d.alpha).T + d.b,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.forward(x, RunMode(shadow=True)), x @ d.W.T + d.b,
                               rtol=1e-5, atol=1e-6)


def test_stochastic_training_forward_samples_weights():
    d = make("ternary")
    x = np.eye(6, dtype=np.float32)
    seen = {tuple(d.forward(x, RunMode(train=True, rng=np.random.default_rng(s))).ravel())
            for s in range(5)}
    assert len(seen) > 1
    out = d.forward(x, RunMode(train=True, rng=np.random.default_rng(7)))
    expected = ternarize_ref(d.W, d.w0, np.random.default_rng(7)) * np.float32(d.alpha)
    np.testing.assert_allclose(out, expected.T, rtol=1e-6)


@pytest.mark.parametrize("mode", ["float", "binary", "ternary"])
@pytest.mark.parametrize("stochastic", [False, True])
def test_gradients_match_finite_differences(mode, stochastic):
    """dx and db by finite differences; dW is the gradient w.r.t. the weights used (STE)."""
    d = make(mode, stochastic=stochastic)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6))
    target = rng.standard_normal((3, 4))
    y = d.forward(x, RunMode(train=True, rng=np.random.default_rng(3)))
    w_used = d._w_used.astype(np.float64)
    d.backward(y - target)
    dx = (y - target) @ w_used

    def loss_x():
        return 0.5 * np.sum((x @ w_used.T + d.b - target) ** 2)

    np.testing.assert_allclose(dx, numeric_grad(loss_x, x), rtol=1e-5, atol=1e-8)
    grad_w = numeric_grad(loss_x, w_used)
    np.testing.assert_allclose(d.parameters()[0].grad, grad_w, rtol=1e-4, atol=1e-6)
    b = d.b.astype(np.float64)

    def loss_b():
        return 0.5 * np.sum((x @ w_used.T + b - target) ** 2)

    np.testing.assert_allclose(d.parameters()[1].grad, numeric_grad(loss_b, b), rtol=1e-4)


def test_backward_returns_input_gradient_with_used_weights():
    d = make("binary", stochastic=True)
    x = np.ones((2, 6), np.float32)
    d.forward(x, RunMode(train=True, rng=np.random.default_rng(5)))
    g = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(d.backward(g), g @ d._w_used)
    assert set(np.unique(np.abs(d._w_used))) == {np.float32(d.alpha)}


@pytest.mark.parametrize("qb_stochastic", [False, True])
def test_quantized_backprop_rounds_only_the_weight_gradient_input(qb_stochastic):
    d = make("ternary", quantized_backprop=True, qb_stochastic=qb_stochastic, qb_range=(-3, 2))
    x = np.random.default_rng(4).uniform(-3, 3, (5, 6)).astype(np.float32)
    y = d.forward(x, RunMode(train=True, rng=np.random.default_rng(9)))
    np.testing.assert_allclose(y, x @ d._w_used.T + d.b, rtol=1e-6)  # forward not quantized
    g = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    dx = d.backward(g)
    np.testing.assert_allclose(dx, g @ d._w_used, rtol=1e-6)  # error not quantized
    xq = d._x
    if not qb_stochastic:
        np.testing.assert_array_equal(xq, pow2_round(x, None, -3, 2))
    nz = xq[xq != 0]
    assert np.all(np.log2(np.abs(nz)) == np.round(np.log2(np.abs(nz))))
    np.testing.assert_allclose(d.parameters()[0].grad, g.T @ xq, rtol=1e-6)
