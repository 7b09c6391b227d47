import numpy as np
import pytest
from hdl_nets import digits_images, run_stream
from qnet_conv_nets import digits_cnn

from golden_model.qnet import pow2_encode
from hdl.conv_layer import ConvLayer, plan_conv
from hdl.errors import HardwareGenerationError


def _encode(values, layer_plan):
    values = np.asarray(values, dtype=np.int64)
    if layer_plan.in_pow2:
        sign, exponent = pow2_encode(values, layer_plan.in_e_max)
        return (sign != 0) | ((sign < 0) << 1) | (exponent << 2)
    return values & ((1 << layer_plan.element_width) - 1)


def _decode(raw, layer_plan, pow2):
    raw = np.asarray(raw, dtype=np.int64)
    if pow2:
        magnitude = np.where(raw & 1, 1 << (raw >> 2), 0)
        return np.where(raw & 2, -magnitude, magnitude)
    width = layer_plan.out_element_width
    if layer_plan.out_shape.signed:
        return np.where(raw >= 1 << (width - 1), raw - (1 << width), raw)
    return raw


def _run_conv(qnet, k, pe, simd, lanes, images, seed=0):
    """The layer's output map from the simulated ConvLayer and from forward_trace."""
    plan = plan_conv(qnet, k, pe, simd, lanes)
    trace = qnet.forward_trace(images)[k]
    beats = [[int(v) for v in word] for vector in _encode(trace["input"], plan.layer)
             for word in vector.reshape(-1, lanes)]
    got = run_stream(ConvLayer(plan), beats, plan.beats_out * len(images), seed=seed,
                     in_gap=0.2, out_gap=0.2, max_cycles=200000)
    assert all(g is not None for g in got), "more output beats than expected"
    c_out = plan.layer.n_out
    lanes_out = np.array([[int(g[p]) for p in range(pe)] for g in got])
    # ceil(C_out/PE) beats per output pixel; drop the padding lanes of the last one.
    pixels = lanes_out.reshape(len(images), -1, plan.layer.neuron_folds * pe)[:, :, :c_out]
    return _decode(pixels.reshape(len(images), -1), plan.layer, qnet.layers[k].pow2), \
        trace["out"]


@pytest.mark.parametrize("pe,simd,pow2", [(1, 1, True), (4, 9, False), (3, 4, True)])
def test_first_conv_layer_bit_exact_on_digits(pe, simd, pow2):
    qnet = digits_cnn(pow2=pow2)
    got, want = _run_conv(qnet, 0, pe, simd, 1, digits_images(2), seed=pe)
    assert np.array_equal(got, want)
    # The raw-pixel padding matters: a zero pad would give another map.
    qnet.layers[0].pad_value = np.array([0])
    assert not np.array_equal(got, qnet.forward_trace(digits_images(2))[0]["out"])


@pytest.mark.parametrize("stride,padding,pe,simd,lanes", [
    (2, "valid", 2, 12, 4), (1, "same", 6, 36, 2), (2, "same", 1, 5, 1)])
def test_hidden_conv_layer_on_pow2_codes_bit_exact(stride, padding, pe, simd, lanes):
    qnet = digits_cnn(seed=1, stride=stride, padding=padding)
    got, want = _run_conv(qnet, 1, pe, simd, lanes, digits_images(2, offset=5), seed=stride)
    assert np.array_equal(got, want)


def test_plan_cycles_and_refusals():
    qnet = digits_cnn()
    plan = plan_conv(qnet, 1, pe=2, simd=12, lanes=4)
    assert plan.out_shape == (3, 3, 6)
    assert plan.window.window_beats == 9 and plan.layer.compute_cycles == 9
    assert plan.estimate()["cycles"] == 9 * 9 + 3  # and a cycle per output row
    with pytest.raises(HardwareGenerationError, match="a divisor of its 4 input channels"):
        plan_conv(qnet, 1, 1, 1, lanes=3)
    with pytest.raises(HardwareGenerationError, match="expected a conv2d layer"):
        plan_conv(qnet, 3, 1, 1, 1)
