"""Convolution, max-pool and flatten layers of a QNet: forward, widths and validation."""

import numpy as np
import pytest
from qnet_conv_nets import conv_qnet, loop_forward

from golden_model.errors import QNetFormatError
from golden_model.qnet import (
    InputSpec,
    QConv2D,
    QFlatten,
    QLayer,
    QMaxPool2D,
    QNet,
    pow2_decode,
    pow2_encode,
)


def zeros(n):
    return np.zeros(n, np.int64)


def random_pixels(net, n, seed=1):
    return np.random.default_rng(seed).integers(0, 1 << net.input.bits, (n, net.input.n_inputs))


@pytest.mark.parametrize(("padding", "stride", "pow2", "activation"), [
    ("same", 1, True, "trec"), ("same", 2, False, "tlin"), ("valid", 1, True, "relu"),
    ("valid", 2, False, "linear"),
])
def test_vectorised_forward_equals_the_loop_reference(padding, stride, pow2, activation):
    net = conv_qnet(seed=2, pow2=pow2, padding=padding, stride=stride, activation=activation)
    x = random_pixels(net, 12)
    x[0] = 0
    x[1] = (1 << net.input.bits) - 1
    logits, classes = net.forward(x)
    np.testing.assert_array_equal(logits, loop_forward(net, x))
    np.testing.assert_array_equal(classes, np.argmax(loop_forward(net, x), axis=1))


def test_padding_reads_the_recorded_raw_pixel_value():
    zero, three = conv_qnet(pad_value=(0, 0)), conv_qnet(pad_value=(3, 0))
    x = random_pixels(zero, 4)
    acc_zero = zero.forward_trace(x)[0]["acc"]
    acc_three = three.forward_trace(x)[0]["acc"]
    # The change is 3 * (sum of channel-0 weights that fall outside) at border positions only.
    assert np.any(acc_zero != acc_three)
    inner = acc_zero.reshape(4, 5, 4, 3)[:, 1:-1, 1:-1] == acc_three.reshape(4, 5, 4, 3)[:, 1:-1,
                                                                                       1:-1]
    assert inner.all()


def test_trace_shapes_and_pooling_commutes_with_the_power_of_two_code():
    net = conv_qnet(pow2=True)
    x = random_pixels(net, 6)
    trace = net.forward_trace(x)
    assert [t["out"].shape for t in trace] == [(6, 60), (6, 12), (6, 8), (6, 8), (6, 3)]
    conv = net.layers[0]
    y = trace[0]["y"].reshape(6, 5, 4, 3)[:, :4, :4]
    pooled_y = y.reshape(6, 2, 2, 2, 2, 3).max(axis=(2, 4)).reshape(6, -1)
    # Hardware pools the saturated activation, then codes it: the same values.
    np.testing.assert_array_equal(pow2_decode(*pow2_encode(pooled_y, conv.e_max)), trace[1]["out"])


def test_widths_bound_every_intermediate():
    net = conv_qnet(pow2=False, activation="tlin")
    trace = net.forward_trace(random_pixels(net, 400, seed=5))
    for step, widths in zip(trace, net.widths, strict=True):
        assert widths.in_min <= step["input"].min() and step["input"].max() <= widths.in_max
        if "acc" in step:
            assert widths.acc_min <= step["acc"].min() and step["acc"].max() <= widths.acc_max
            assert widths.z_min <= step["z"].min() and step["z"].max() <= widths.z_max
        assert widths.out_min <= step["out"].min() and step["out"].max() <= widths.out_max


def test_conv_widths_count_the_padding_and_are_attained():
    """One all-ones 3x3 filter on 2-bit pixels padded with 3: the bound is every tap at 3."""
    conv = QConv2D(weights=np.ones((1, 3, 3, 1), int), bias=zeros(1), shift=zeros(1),
                   in_shape=(3, 3, 1), pad_value=np.array([3]), activation="relu", out_bits=8)
    net = QNet(InputSpec(9, 2, image_shape=(3, 3)),
               [conv, QFlatten((3, 3, 1)),
                QLayer(np.ones((1, 9), int), zeros(1), zeros(1), activation="linear")])
    assert (net.widths[0].acc_min, net.widths[0].acc_max) == (0, 27)
    assert net.widths[0].in_max == 3 and net.widths[0].acc_bits == 6
    logits = net.forward(np.full((1, 9), 3))[0]
    assert logits[0, 0] == 9 * 27 and net.widths[2].acc_max == 9 * 27
    # Pool and flatten carry their input range through.
    pooled = conv_qnet()
    assert pooled.widths[1].in_max == pooled.widths[1].out_max == pooled.widths[0].out_max


def _replace(net, k, **changes):
    layers = list(net.layers)
    old = layers[k]
    fields = {name: getattr(old, name) for name in old.__dataclass_fields__}
    layers[k] = type(old)(**{**fields, **changes})
    return QNet(net.input, layers)


@pytest.mark.parametrize(("k", "changes", "message"), [
    (0, {"in_shape": (4, 5, 2)}, r"layers\[0\].in_shape: expected \[5, 4, 2\]"),
    (0, {"stride": 3}, r"layers\[0\].stride"),
    (0, {"padding": "full"}, r"layers\[0\].padding"),
    (0, {"pad_value": np.array([16, 0])}, r"layers\[0\].pad_value: expected values <= 15"),
    (0, {"pad_value": np.array([1])}, r"layers\[0\].pad_value: expected shape \(2,\)"),
    (2, {"pad_value": np.array([0, 1, 0])}, r"layers\[2\].pad_value: expected values <= 0"),
    (0, {"weights": np.ones((3, 3, 2, 2), int)}, r"layers\[0\].weights: expected a 4-D array"),
    (0, {"weights": np.full((3, 3, 3, 2), 2)}, r"layers\[0\].weights: expected values <= 1"),
    (2, {"weights": np.zeros((2, 2, 2, 3), int)}, r"only -1 and \+1 for a binary layer"),
    (0, {"shift": np.zeros(2, int)}, r"layers\[0\].shift: expected shape \(3,\)"),
    (0, {"activation": "relu", "threshold": np.ones(3, int)}, "zeros for a relu layer"),
    (1, {"size": 5}, r"layers\[1\].size: expected an integer in \[1, 4\]"),
    (3, {"in_shape": (1, 1, 8)}, r"layers\[3\].in_shape"),
])
def test_bad_layers_are_refused(k, changes, message):
    with pytest.raises(QNetFormatError, match=message):
        _replace(conv_qnet(), k, **changes)


def test_bad_layer_order_is_refused():
    net = conv_qnet()
    conv, pool, conv2, flat, dense = net.layers
    with pytest.raises(QNetFormatError, match="a flatten before a dense layer"):
        QNet(net.input, [conv, pool, conv2, dense])
    with pytest.raises(QNetFormatError, match="a dense output layer"):
        QNet(net.input, [conv, pool, conv2])
    with pytest.raises(QNetFormatError, match="a dense layer after a flatten"):
        QNet(net.input, [conv, pool, conv2, flat, QFlatten((12,)), dense])
    with pytest.raises(QNetFormatError, match=r"input.image_shape: expected \(H, W\) or"):
        QNet(InputSpec(40, 4), net.layers)
    with pytest.raises(QNetFormatError, match="a kernel of at most 4 for 'valid'"):
        QNet(net.input, [QConv2D(np.ones((1, 5, 5, 2), int), zeros(1), zeros(1), (5, 4, 2),
                                 padding="valid"), QFlatten((1, 0, 1)), dense])


def test_a_pool_first_on_raw_pixels_and_two_dimensional_images():
    pool = QMaxPool2D((4, 4, 1), 2)
    dense = QLayer(np.eye(4, dtype=np.int8), zeros(4), zeros(4), activation="linear")
    net = QNet(InputSpec(16, 4, image_shape=(4, 4)), [pool, QFlatten((2, 2, 1)), dense])
    x = np.arange(16).reshape(1, 16)
    np.testing.assert_array_equal(net.forward(x)[0], [[5, 7, 13, 15]])
