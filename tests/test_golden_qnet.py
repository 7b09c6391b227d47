"""QNet integer forward on hand-computed nets, the power-of-two code, and the widths."""

import numpy as np
import pytest

from golden_model.errors import QNetFormatError
from golden_model.qnet import (
    InputSpec,
    QLayer,
    QNet,
    pow2_decode,
    pow2_encode,
    signed_bits,
    unsigned_bits,
)


def one_layer(weights, bias, shift, bits=4, **kwargs):
    weights = np.array(weights, dtype=np.int8)
    layer = QLayer(weights=weights, bias=np.array(bias), shift=np.array(shift),
                   activation="linear", **kwargs)
    return QNet(InputSpec(n_inputs=weights.shape[1], bits=bits), [layer])


def hidden_then_identity(layer, bits=4):
    """``layer`` followed by an identity output layer, so its ``out`` is visible as logits."""
    n = layer.n_out
    identity = QLayer(weights=np.eye(n, dtype=np.int8), bias=np.zeros(n, np.int64),
                      shift=np.zeros(n, np.int64), activation="linear")
    return QNet(InputSpec(n_inputs=layer.n_in, bits=bits), [layer, identity])


# -- hand-computed forward ----------------------------------------------------------------------


def test_two_layer_net_by_hand():
    hidden = QLayer(
        weights=np.array([[1, -1, 0], [1, 1, 1], [-1, 0, -1]], np.int8),
        bias=np.array([1, -2, 3]), shift=np.array([1, 0, 2]),
        activation="relu", out_bits=3,
    )
    out = QLayer(weights=np.array([[1, 1, -1], [-1, 0, 1]], np.int8),
                 bias=np.array([0, 5]), shift=np.array([0, 1]), activation="linear")
    net = QNet(InputSpec(n_inputs=3, bits=3), [hidden, out])
    x = np.array([[7, 2, 5]])
    # acc = [5, 14, -12]; +b = [6, 12, -9]; >>s = [3, 12, -3]; relu = [3, 12, 0]; sat 3b = [3, 7, 0]
    # out acc = [10, -3]; +b = [10, 2]; >>s = [10, 1]
    trace = net.forward_trace(x)
    np.testing.assert_array_equal(trace[0]["acc"], [[5, 14, -12]])
    np.testing.assert_array_equal(trace[0]["z"], [[3, 12, -3]])
    np.testing.assert_array_equal(trace[0]["out"], [[3, 7, 0]])
    logits, classes = net.forward(x)
    np.testing.assert_array_equal(logits, [[10, 1]])
    np.testing.assert_array_equal(classes, [0])
    assert logits.dtype == np.int64 and classes.dtype == np.int64
    # a 1-D input is one image
    np.testing.assert_array_equal(net.forward(x[0])[0], [[10, 1]])


def test_argmax_ties_pick_the_lowest_index():
    net = one_layer([[1, 0], [0, 1], [1, 0], [0, 1]], [0, 0, 0, 0], [0, 0, 0, 0])
    logits, classes = net.forward(np.array([[3, 3], [2, 5], [0, 0], [5, 1]]))
    np.testing.assert_array_equal(classes, [0, 1, 0, 0])
    np.testing.assert_array_equal(logits[1], [2, 5, 2, 5])


def test_shift_is_a_floor_and_negative_shift_is_a_left_shift():
    net = one_layer([[1], [1], [-1], [-1], [1]], [0, 1, 0, 0, 0], [1, 1, 1, 2, -3], bits=4)
    logits, _ = net.forward(np.array([[5]]))
    # 5>>1 = 2; (5+1)>>1 = 3; -5>>1 = -3 (floor); -5>>2 = -2; 5<<3 = 40
    np.testing.assert_array_equal(logits, [[2, 3, -3, -2, 40]])


def test_round_to_nearest_folded_into_bias():
    # z = round(acc / 4) with ties up == (acc + 2) >> 2, for every acc
    acc = np.arange(-20, 21)
    net = one_layer([[1, -1]], [2], [2], bits=5)
    x = np.stack([np.clip(acc, 0, None), np.clip(-acc, 0, None)], axis=1)
    logits, _ = net.forward(x)
    np.testing.assert_array_equal(logits[:, 0], np.floor(acc / 4 + 0.5).astype(np.int64))


@pytest.mark.parametrize(
    "activation, out_bits, z, expected",
    [
        # relu: unsigned saturation at both ends
        ("relu", 3, [-9, -1, 0, 1, 7, 8, 100], [0, 0, 0, 1, 7, 7, 7]),
        # linear hidden: signed saturation at both ends
        ("linear", 3, [-9, -5, -4, -1, 0, 3, 4, 100], [-4, -4, -4, -1, 0, 3, 3, 3]),
        ("tlin", 4, [-100, -9, -8, 7, 8, 100], [-8, -8, -8, 7, 7, 7]),
        ("trec", 2, [-5, 0, 3, 4, 9], [0, 0, 3, 3, 3]),
        ("relu", 1, [-1, 0, 1, 2], [0, 0, 1, 1]),
    ],
)
def test_saturation_at_both_ends(activation, out_bits, z, expected):
    z = np.array(z)
    layer = QLayer(weights=np.array([[1, -1]], np.int8), bias=np.array([0]),
                   shift=np.array([0]), activation=activation, out_bits=out_bits)
    net = hidden_then_identity(layer, bits=8)
    x = np.stack([np.clip(z, 0, None), np.clip(-z, 0, None)], axis=1)
    np.testing.assert_array_equal(net.forward(x)[0][:, 0], expected)


def test_trec_and_tlin_boundaries_at_exactly_theta():
    z = np.arange(-6, 7)
    theta = 3
    x = np.stack([np.clip(z, 0, None), np.clip(-z, 0, None)], axis=1)
    for activation, keep in (("trec", z > theta), ("tlin", np.abs(z) > theta)):
        layer = QLayer(weights=np.array([[1, -1]], np.int8), bias=np.array([0]),
                       shift=np.array([0]), activation=activation, out_bits=8,
                       threshold=np.array([theta]))
        out = hidden_then_identity(layer, bits=4).forward(x)[0][:, 0]
        np.testing.assert_array_equal(out, np.where(keep, z, 0))
        # at exactly +theta (and -theta for tlin) the output is 0; one step past it is not
        assert out[z == theta][0] == 0 and out[z == theta + 1][0] == theta + 1
    assert out[z == -theta][0] == 0 and out[z == -theta - 1][0] == -theta - 1


def test_per_neuron_thresholds_and_zero_threshold_trec_is_relu():
    layer = QLayer(weights=np.array([[1], [1], [1]], np.int8), bias=np.zeros(3, np.int64),
                   shift=np.zeros(3, np.int64), activation="trec", out_bits=8,
                   threshold=np.array([0, 2, 5]))
    net = hidden_then_identity(layer, bits=4)
    logits, _ = net.forward(np.array([[0], [1], [2], [3], [5], [6]]))
    np.testing.assert_array_equal(logits, [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 3, 0],
                                           [5, 5, 0], [6, 6, 6]])


def test_all_zero_and_all_negative_weights():
    net = one_layer([[0, 0, 0], [-1, -1, -1]], [0, 0], [0, 0], bits=8)
    logits, classes = net.forward(np.array([[255, 255, 255], [0, 0, 0]]))
    np.testing.assert_array_equal(logits, [[0, -765], [0, 0]])
    np.testing.assert_array_equal(classes, [0, 0])
    assert (net.widths[0].acc_min, net.widths[0].acc_max) == (-765, 0)


# -- power-of-two code --------------------------------------------------------------------------


def pow2_brute_force(y, e_max):
    """DESIGN.md's definition, one Python integer at a time."""
    if y == 0:
        return 0, 0
    m = abs(y)
    lead = m.bit_length() - 1
    next_bit = (m >> (lead - 1)) & 1 if lead > 0 else 0
    return (1 if y > 0 else -1), min(max(lead + next_bit, 0), e_max)


@pytest.mark.parametrize("e_max", [0, 1, 3, 7, 12])
def test_pow2_encode_every_value_against_the_definition(e_max):
    y = np.arange(-(1 << 13), (1 << 13) + 1)
    sign, exponent = pow2_encode(y, e_max)
    expected = np.array([pow2_brute_force(int(v), e_max) for v in y])
    np.testing.assert_array_equal(sign, expected[:, 0])
    np.testing.assert_array_equal(exponent, expected[:, 1])
    decoded = pow2_decode(sign, exponent)
    # ties round up: 3 -> 4, 6 -> 8, 12 -> 16 (while e_max allows), 5 -> 4, 7 -> 8
    for value, power in ((1, 1), (2, 2), (3, 4), (5, 4), (6, 8), (7, 8), (12, 16), (-3, -4)):
        clamped = np.sign(power) * min(abs(power), 1 << e_max)
        assert decoded[y == value][0] == clamped


def test_pow2_encode_extremes():
    big = np.array([(1 << 62) - 1, -(1 << 62), 1 << 40, (1 << 40) + (1 << 39)])
    sign, exponent = pow2_encode(big, 63)
    np.testing.assert_array_equal(sign, [1, -1, 1, 1])
    np.testing.assert_array_equal(exponent, [62, 62, 40, 41])


def test_pow2_layer_hands_on_decoded_powers():
    layer = QLayer(weights=np.array([[1, -1]], np.int8), bias=np.array([0]),
                   shift=np.array([0]), activation="tlin", out_bits=6, pow2=True, e_max=3,
                   threshold=np.array([1]))
    net = hidden_then_identity(layer, bits=6)
    z = np.array([-40, -6, -3, -1, 0, 1, 2, 3, 5, 6, 11, 12, 31, 40])
    x = np.stack([np.clip(z, 0, None), np.clip(-z, 0, None)], axis=1)
    trace = net.forward_trace(x)
    # saturate to [-32, 31], then pow2 with e_max 3 (at most 8)
    np.testing.assert_array_equal(trace[0]["y"][:, 0],
                                  [-32, -6, -3, 0, 0, 0, 2, 3, 5, 6, 11, 12, 31, 31])
    np.testing.assert_array_equal(trace[0]["out"][:, 0],
                                  [-8, -8, -4, 0, 0, 0, 2, 4, 4, 8, 8, 8, 8, 8])
    np.testing.assert_array_equal(trace[0]["exponent"][:, 0],
                                  [3, 3, 2, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3])


# -- widths --------------------------------------------------------------------------------------


def test_bit_width_helpers_at_their_bounds():
    assert signed_bits(-128, 127) == 8 and signed_bits(-129, 0) == 9 and signed_bits(0, 128) == 9
    assert signed_bits(0, 0) == 1 and signed_bits(-1, 0) == 1 and signed_bits(0, 1) == 2
    assert unsigned_bits(0) == 1 and unsigned_bits(255) == 8 and unsigned_bits(256) == 9


def random_net(rng, n_inputs=12, sizes=(9, 7, 4), bits=8):
    layers = []
    n_in = n_inputs
    for k, n_out in enumerate(sizes):
        last = k == len(sizes) - 1
        mode = rng.choice(["ternary", "binary"])
        w = rng.integers(-1, 2, (n_out, n_in)) if mode == "ternary" else \
            rng.choice([-1, 1], (n_out, n_in))
        activation = "linear" if last else str(rng.choice(["relu", "trec", "tlin", "linear"]))
        threshold = rng.integers(0, 6, n_out) if activation in ("trec", "tlin") else None
        layers.append(QLayer(
            weights=w.astype(np.int8), bias=rng.integers(-300, 300, n_out),
            shift=rng.integers(-2, 6, n_out), weight_mode=str(mode), activation=activation,
            threshold=threshold, out_bits=int(rng.integers(1, 9)),
            pow2=bool(not last and rng.random() < 0.5), e_max=int(rng.integers(0, 8)),
        ))
        n_in = n_out
    return QNet(InputSpec(n_inputs=n_inputs, bits=bits), layers)


def adversarial_inputs(net, rng, n_random=64):
    """Random pixels, all-max, all-zero, and per first-layer neuron the inputs that
    drive its accumulator to either extreme (max against +1, 0 against -1, and back)."""
    hi = (1 << net.input.bits) - 1
    w = net.layers[0].weights
    rows = [rng.integers(0, hi + 1, (n_random, net.input.n_inputs)),
            np.full((1, net.input.n_inputs), hi), np.zeros((1, net.input.n_inputs), int),
            np.where(w > 0, hi, 0), np.where(w < 0, hi, 0)]
    return np.concatenate(rows)


def assert_within_widths(net, x):
    trace = net.forward_trace(x)
    for k, (step, width) in enumerate(zip(trace, net.widths, strict=True)):
        layer = net.layers[k]
        bias, shift = layer.bias.astype(np.int64), layer.shift
        total = step["acc"] + bias
        for name, value, lo, hi in (
            ("in", step["input"], width.in_min, width.in_max),
            ("acc", step["acc"], width.acc_min, width.acc_max),
            ("sum", total, width.sum_min, width.sum_max),
            ("z", step["z"], width.z_min, width.z_max),
            ("out", step["out"], width.out_min, width.out_max),
        ):
            assert lo <= value.min() and value.max() <= hi, (k, name, lo, hi)
        for name, lo, hi in (("acc", width.acc_min, width.acc_max),
                             ("sum", width.sum_min, width.sum_max),
                             ("z", width.z_min, width.z_max)):
            bits = getattr(width, f"{name}_bits")
            assert -(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1, (k, name)
            assert bits == 1 or not (-(1 << (bits - 2)) <= lo and hi <= (1 << (bits - 2)) - 1)
        if width.in_signed:
            assert width.in_bits == signed_bits(width.in_min, width.in_max)
        else:
            assert width.in_min >= 0 and width.in_bits == unsigned_bits(width.in_max)
        assert shift.shape == (layer.n_out,)
    return trace


@pytest.mark.parametrize("seed", range(40))
def test_no_forward_value_exceeds_the_recorded_widths(seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng, bits=int(rng.integers(1, 9)))
    assert_within_widths(net, adversarial_inputs(net, rng))


def test_first_layer_accumulator_bound_is_reached():
    rng = np.random.default_rng(1)
    net = random_net(rng, n_inputs=16, bits=8)
    x = adversarial_inputs(net, rng, n_random=0)
    acc = net.forward_trace(x)[0]["acc"]
    assert acc.max() == net.widths[0].acc_max and acc.min() == net.widths[0].acc_min


def test_all_max_pixels_against_all_plus_one_rows():
    n, bits = 784, 8
    layer = QLayer(weights=np.ones((3, n), np.int8), bias=np.array([0, 7, -7]),
                   shift=np.array([0, 0, -2]), activation="linear")
    net = QNet(InputSpec(n_inputs=n, bits=bits), [layer])
    logits, _ = net.forward(np.full((1, n), 255))
    np.testing.assert_array_equal(logits, [[784 * 255, 784 * 255 + 7, (784 * 255 - 7) * 4]])
    width = net.widths[0]
    assert width.acc_max == 784 * 255 and width.acc_bits == signed_bits(0, 784 * 255) == 19
    assert width.z_max == max(784 * 255 + 7, (784 * 255 - 7) * 4)
    assert width.z_bits == signed_bits(width.z_min, width.z_max)
    assert_within_widths(net, np.full((1, n), 255))


def test_pow2_inputs_bound_the_next_layer():
    hidden = QLayer(weights=np.ones((2, 4), np.int8), bias=np.zeros(2, np.int64),
                    shift=np.zeros(2, np.int64), activation="relu", out_bits=8, pow2=True,
                    e_max=5)
    out = QLayer(weights=np.array([[1, -1]], np.int8), bias=np.array([0]),
                 shift=np.array([0]), activation="linear")
    net = QNet(InputSpec(n_inputs=4, bits=8), [hidden, out])
    # hidden saturates at 255 whose pow2 code is clamped to 2**5
    assert (net.widths[0].out_min, net.widths[0].out_max) == (0, 32)
    assert (net.widths[1].in_min, net.widths[1].in_max, net.widths[1].in_bits) == (0, 32, 6)
    assert (net.widths[1].acc_min, net.widths[1].acc_max) == (-32, 32)


def test_input_outside_its_bits_is_rejected():
    net = one_layer([[1, 1]], [0], [0], bits=4)
    with pytest.raises(QNetFormatError, match=r"pixels must be in \[0, 15\]"):
        net.forward(np.array([[16, 0]]))
    with pytest.raises(QNetFormatError, match=r"expected shape \(batch, 2\)"):
        net.forward(np.array([[1, 2, 3]]))
    with pytest.raises(QNetFormatError, match="integer pixels"):
        net.forward(np.array([[1.0, 2.0]]))
