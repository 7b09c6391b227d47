"""Conv2D: geometry, forward against a loop reference, gradients by finite differences."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.conv2d import Conv2D, conv_geometry
from golden_model.dense import Dense
from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode
from golden_model.weight_quant import pow2_round


def loop_conv(x, w, b, kernel, stride, pads, pad_value):
    """Slow reference: x (N, H, W, C), w (C_out, k, k, C), explicit loops over positions."""
    (top, bottom), (left, right) = pads
    n, h, wd, c = x.shape
    padded = np.empty((n, h + top + bottom, wd + left + right, c))
    padded[...] = pad_value
    padded[:, top:top + h, left:left + wd] = x
    h_out = (padded.shape[1] - kernel) // stride + 1
    w_out = (padded.shape[2] - kernel) // stride + 1
    out = np.zeros((n, h_out, w_out, w.shape[0]))
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
            out[:, i, j] = np.einsum("nabc,oabc->no", patch, w)
    return out + (0 if b is None else b)


@pytest.mark.parametrize(("size", "k", "s", "padding", "out", "pads"), [
    (8, 3, 1, "same", 8, (1, 1)), (8, 3, 2, "same", 4, (0, 1)), (7, 3, 2, "same", 4, (1, 1)),
    (8, 3, 1, "valid", 6, (0, 0)), (8, 3, 2, "valid", 3, (0, 0)), (5, 5, 1, "valid", 1, (0, 0)),
    (4, 2, 1, "same", 4, (0, 1)), (1, 3, 1, "same", 1, (1, 1)),
])
def test_geometry(size, k, s, padding, out, pads):
    assert conv_geometry(size, k, s, padding) == (out, pads)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"padding": "full"}, "padding 'full'"), ({"stride": 3}, "stride 3: expected 1 or 2"),
    ({"kernel": 9, "padding": "valid"}, "does not fit"), ({"kernel": 0}, "kernel 0"),
    ({"weight_mode": "octal"}, "weight mode 'octal'"),
])
def test_bad_arguments(kwargs, message):
    args = {"in_shape": (6, 6, 2), "n_filters": 3, **kwargs}
    with pytest.raises(MulfreeError, match=message):
        Conv2D(**args)


@pytest.mark.parametrize(("stride", "padding", "kernel"), [
    (1, "same", 3), (2, "same", 3), (1, "valid", 3), (2, "valid", 2), (1, "same", 1),
])
@pytest.mark.parametrize("mode", ["float", "ternary"])
def test_forward_equals_loop_reference(stride, padding, kernel, mode):
    rng = np.random.default_rng(1)
    conv = Conv2D((7, 6, 2), 3, kernel, mode, stride=stride, padding=padding,
                  pad_value=[0.25, -0.5], rng=rng)
    conv.dense.b[...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 7 * 6 * 2)).astype(np.float32)  # flat input is reshaped
    y = conv.forward(x, EVAL)
    w = conv.dense.effective_weights(EVAL).reshape(3, kernel, kernel, 2)
    ref = loop_conv(x.reshape(2, 7, 6, 2), w, conv.b, kernel, stride, conv.pads,
                    conv.pad_value)
    assert y.shape == (2,) + conv.out_shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["float", "binary", "ternary"])
@pytest.mark.parametrize("stochastic", [False, True])
@pytest.mark.parametrize(("stride", "padding"), [(1, "same"), (2, "same"), (1, "valid")])
def test_gradients_match_finite_differences(mode, stochastic, stride, padding):
    """dx, db by finite differences; dW w.r.t. the weights used (straight-through)."""
    rng = np.random.default_rng(2)
    conv = Conv2D((5, 4, 2), 3, 3, mode, stride=stride, padding=padding, stochastic=stochastic,
                  pad_value=[0.5, -1.0], rng=rng)
    x = rng.standard_normal((2, 5, 4, 2))
    y = conv.forward(x, RunMode(train=True, rng=np.random.default_rng(3)))
    target = rng.standard_normal(y.shape)
    w_used = conv.dense._w_used.astype(np.float64).reshape(3, 3, 3, 2)
    b = conv.b.astype(np.float64)
    dx = conv.backward(y - target)

    def loss():
        out = loop_conv(x, w_used, b, 3, stride, conv.pads, conv.pad_value)
        return 0.5 * np.sum((out - target) ** 2)

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(conv.parameters()[0].grad.reshape(w_used.shape),
                               numeric_grad(loss, w_used), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv.parameters()[1].grad, numeric_grad(loss, b), rtol=1e-4)


def test_quantized_backprop_rounds_only_the_weight_gradient_patches():
    rng = np.random.default_rng(4)
    conv = Conv2D((4, 4, 1), 2, 3, "ternary", quantized_backprop=True, qb_stochastic=False,
                  qb_range=(-3, 2), pad_value=0.3, rng=rng)
    x = rng.uniform(-3, 3, (3, 4, 4, 1)).astype(np.float32)
    y = conv.forward(x, RunMode(train=True, rng=np.random.default_rng(9)))
    w_used = conv.dense._w_used.reshape(2, 3, 3, 1)
    np.testing.assert_allclose(y, loop_conv(x, w_used, conv.b, 3, 1, conv.pads, 0.3),
                               rtol=1e-5, atol=1e-5)  # forward not quantized
    g = rng.standard_normal(y.shape).astype(np.float32)
    conv.backward(g)
    cols = np.stack([np.pad(x[..., 0], ((0, 0), (1, 1), (1, 1)), constant_values=0.3)
                     [:, i:i + 4, j:j + 4] for i in range(3) for j in range(3)], axis=-1)
    rounded = pow2_round(cols.reshape(-1, 9), None, -3, 2)
    np.testing.assert_allclose(conv.parameters()[0].grad, g.reshape(-1, 2).T @ rounded,
                               rtol=1e-5)


def test_shadow_weights_clip_and_learning_rate_scale_as_dense():
    conv = Conv2D((6, 6, 3), 4, 3, "binary")
    assert conv.W.shape == (4, 27)
    assert conv.w0 == pytest.approx(np.sqrt(1.5 / (27 + 4)))
    # the base rate, as Dense (a 1/W0 scale made each step span the clip range)
    dense = Dense(27, 4, "binary")
    assert conv.parameters()[0].lr_scale == dense.parameters()[0].lr_scale == 1.0
    conv.W[...] = 5.0
    conv.clip_weights()
    assert np.all(conv.W == np.float32(conv.w0))
    assert set(np.unique(conv.quantized_weights())) == {1}


def test_stochastic_quantized_backprop_rounds_each_pixel_once():
    """Every patch that holds a pixel sees the same rounding of it (the input is rounded,
    not the patch matrix)."""
    from golden_model.conv2d import im2col

    rng = np.random.default_rng(6)
    conv = Conv2D((5, 5, 1), 1, 3, "ternary", quantized_backprop=True, qb_stochastic=True,
                  rng=rng)
    x = rng.uniform(0.1, 3, (2, 5, 5, 1)).astype(np.float32)
    conv.forward(x, RunMode(train=True, rng=np.random.default_rng(1)))
    g = np.zeros((2, 5, 5, 1), np.float32)
    g[:, 1:-1, 1:-1] = 1  # positions whose patches lie inside the image
    conv.backward(g)
    # The centre taps are the rounded image; every other tap is a copy of it (or the pad, 0).
    centre = conv._rounded_cols.reshape(2, 5, 5, 9)[..., 4]
    np.testing.assert_array_equal(conv._rounded_cols,
                                  im2col(centre[..., None], 3, 1, conv.pads, np.zeros(1)))
    assert not np.array_equal(centre, pow2_round(x[..., 0], None, -4, 3))  # it is stochastic
    np.testing.assert_allclose(conv.parameters()[0].grad,
                               g.reshape(-1, 1).T @ conv._rounded_cols, rtol=1e-6)
