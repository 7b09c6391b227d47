"""quantize(): float model to QNet, checked exhaustively on dyadic nets and on digits."""

import itertools

import numpy as np
import pytest

from golden_model.agreement import measure_agreement
from golden_model.datasets import load_dataset
from golden_model.layer import EVAL, RunMode
from golden_model.network import NetworkConfig, build_network
from golden_model.quantize import QuantizeError, float_blocks, quantize
from golden_model.train import TrainConfig, train_model


def dyadic_network(seed, sizes=(4, 5, 3), input_bits=3, activation="relu", act="int",
                   weight_mode="ternary", shift_based=True, act_bits=3, frac_bits=1, theta=1.0,
                   e_max=None):
    """A network whose every parameter is a dyadic rational, so its float32
    evaluation is exact and must equal the QNet code for code."""
    rng = np.random.default_rng(seed)
    config = NetworkConfig(
        sizes=sizes, input_bits=input_bits, weight_mode=weight_mode, activation=activation,
        theta=theta, batchnorm=True, shift_based=shift_based, act_quant=act,
        act_bits=act_bits, act_frac_bits=frac_bits, act_e_max=e_max, alpha_pow2=True)
    mean = rng.integers(0, 4 << input_bits, sizes[0]) / 4.0
    network = build_network(config, mean, rng)
    for block in network.blocks():
        dense = block.dense
        trits = rng.integers(-1, 2, dense.W.shape)
        if weight_mode == "binary":
            trits = np.where(trits == 0, 1, trits)
        dense.W[...] = trits * dense.w0 * 0.9
        bn = block.batchnorm
        bn.gamma[...] = rng.choice([-2.0, -1.0, -0.5, 0.25, 0.5, 1.0, 3.0], bn.n)
        bn.beta[...] = rng.integers(-16, 17, bn.n) / 8.0
        bn.running_mean[...] = rng.integers(-16, 17, bn.n) / 16.0
        bn.running_var[...] = rng.choice([0.25, 1.0, 4.0], bn.n) - bn.eps
    return network


def all_inputs(n, bits):
    return np.array(list(itertools.product(range(1 << bits), repeat=n)))


def assert_codes_equal(network, qnet, x):
    float_out = float_blocks(network, x)
    trace = qnet.forward_trace(x)
    info = qnet.meta["quantization"]
    for k in range(len(qnet.layers) - 1):
        step = info["layers"][k]["step"]
        np.testing.assert_array_equal(float_out[k] / step, trace[k]["out"], err_msg=f"layer {k}")
    logits = float_out[-1].astype(np.float64) / (2.0 ** info["logit_scale_log2"]
                                                 * info["logit_common_factor"])
    bound = info["layers"][-1]["bias_error"] * 2.0 ** -min(0, info["layers"][-1]["shift_min"])
    assert np.abs(logits - trace[-1]["out"]).max() <= bound + 1e-9


# -- exact on dyadic networks, exhaustively over the input space -----------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("activation, act", [
    ("relu", "int"), ("trec", "int"), ("tlin", "int"), ("linear", "int"),
    ("relu", "pow2"), ("tlin", "pow2"),
])
def test_hidden_codes_equal_the_float_model_exactly(seed, activation, act):
    network = dyadic_network(seed, activation=activation, act=act, theta=1.0, e_max=2)
    qnet = quantize(network)
    info = qnet.meta["quantization"]
    assert info["max_scale_error"] == 0.0
    assert all(layer["exact"] for layer in info["layers"][:-1])
    assert_codes_equal(network, qnet, all_inputs(4, 3))


def test_three_hidden_layers_binary_exhaustive():
    network = dyadic_network(7, sizes=(3, 6, 6, 4, 3), input_bits=3, weight_mode="binary",
                             activation="tlin", act_bits=4, frac_bits=2, theta=0.5)
    qnet = quantize(network)
    assert all(layer.weight_mode == "binary" for layer in qnet.layers)
    assert_codes_equal(network, qnet, all_inputs(3, 3))


def test_negative_batchnorm_scale_flips_the_weight_row():
    network = dyadic_network(1)
    block = network.blocks()[0]
    block.batchnorm.gamma[...] = np.array([-1.0, 1.0, -0.5, 2.0, 1.0])
    qnet = quantize(network)
    trits = block.dense.quantized_weights()
    sign = np.array([-1, 1, -1, 1, 1])
    np.testing.assert_array_equal(qnet.layers[0].weights, trits * sign[:, None])
    assert qnet.meta["quantization"]["layers"][0]["sign_flips"] == 2
    assert_codes_equal(network, qnet, all_inputs(4, 3))


def test_shift_bias_and_threshold_by_hand():
    network = dyadic_network(0, sizes=(1, 1, 2), activation="trec", theta=0.5,
                             frac_bits=2, act_bits=4)
    block = network.blocks()[0]
    block.dense.W[...] = block.dense.w0  # the one weight is +1
    network.preprocess.mean[...] = 2.0
    bn = block.batchnorm
    bn.gamma[...] = 2.0 / block.dense.alpha
    bn.running_var[...] = 1.0 - bn.eps
    bn.running_mean[...] = 0.0
    bn.beta[...] = 0.375
    # pixel step 2**-3: u = 2 * (x - 2) / 8 + 0.375; on the 2**-2 grid u / step = x - 0.5,
    # a tie for every x, which rounds up to x: shift 0, bias floor(-0.5 + 0.5) = 0
    qnet = quantize(network)
    layer = qnet.layers[0]
    assert layer.shift.tolist() == [0] and layer.bias.tolist() == [0]
    assert layer.threshold.tolist() == [2]  # theta / step
    x = np.arange(8)[:, None]
    codes = qnet.forward_trace(x)[0]["out"][:, 0]
    np.testing.assert_array_equal(codes, [0, 0, 0, 3, 4, 5, 6, 7])
    assert_codes_equal(network, qnet, x)


def test_preprocessing_mean_is_folded_into_the_first_bias():
    a = dyadic_network(3)
    b = dyadic_network(3)
    b.preprocess.mean[...] += 1.0
    qa, qb = quantize(a), quantize(b)
    np.testing.assert_array_equal(qa.layers[0].weights, qb.layers[0].weights)
    assert not np.array_equal(qa.layers[0].bias, qb.layers[0].bias)
    assert qa.input.bits == 3 and qa.input.n_inputs == 4


# -- approximations are reported ------------------------------------------------------------


def test_float_batchnorm_scale_reports_its_error():
    network = dyadic_network(2, shift_based=False)
    network.blocks()[0].batchnorm.gamma[...] = 0.3
    qnet = quantize(network)
    info = qnet.meta["quantization"]
    scale = 0.3 * network.blocks()[0].dense.alpha * 2.0**-3 / 2.0**-1  # |c| / step
    p = np.round(np.log2(scale))
    expected = abs(2.0**p / scale - 1)
    assert info["layers"][0]["scale_error"] == pytest.approx(expected, rel=1e-5)
    assert info["max_scale_error"] >= expected and not info["exact"]


def test_calibrated_step_for_layers_without_an_activation_quantizer():
    network = dyadic_network(4, act=None)
    x = all_inputs(4, 3)
    with pytest.raises(QuantizeError, match="need calibration images"):
        quantize(network)
    qnet = quantize(network, calibration_x=x, act_bits=6)
    report = qnet.meta["quantization"]["layers"][0]
    peak = np.abs(float_blocks(network, x)[0]).max()
    assert report["calibrated"] and not report["exact"]
    assert peak / report["step"] <= 63 < 2 * peak / report["step"]
    assert qnet.layers[0].out_bits == 6


def test_float_weights_and_zero_binary_rows_are_refused():
    config = NetworkConfig(sizes=(4, 3, 2), input_bits=3, weight_mode="float", act_quant="int")
    with pytest.raises(QuantizeError, match="float weights"):
        quantize(build_network(config))
    network = dyadic_network(0, weight_mode="binary")
    network.blocks()[0].batchnorm.gamma[1] = 0.0
    with pytest.raises(QuantizeError, match="neuron 1 has a zero scale"):
        quantize(network)


def test_zero_scale_ternary_neuron_is_a_constant():
    network = dyadic_network(5)
    network.blocks()[0].batchnorm.gamma[2] = 0.0
    qnet = quantize(network)
    assert not qnet.layers[0].weights[2].any()
    assert_codes_equal(network, qnet, all_inputs(4, 3))


@pytest.mark.parametrize("layer, field, index, value, expected", [
    (0, "running_var", 3, -0.5, "layer 0 batch norm: running_var of neuron 3 is -0.5; "
                                "expected variances >= 0"),
    (1, "running_var", 0, -1e-9, "layer 1 batch norm: running_var of neuron 0 is -1e-09"),
    (0, "running_var", 2, np.nan, "layer 0 batch norm: running_var is nan (entry 2); "
                                  "expected finite numbers"),
    (1, "running_var", 1, np.inf, "layer 1 batch norm: running_var is inf (entry 1)"),
    (0, "running_mean", 4, np.nan, "layer 0 batch norm: running_mean is nan (entry 4)"),
    (1, "gamma", 0, np.inf, "layer 1 batch norm: gamma is inf"),
    (0, "beta", 1, -np.inf, "layer 0 batch norm: beta is -inf"),
])
def test_bad_batchnorm_statistics_are_refused(layer, field, index, value, expected):
    network = dyadic_network(1)
    getattr(network.blocks()[layer].batchnorm, field)[index] = value
    with pytest.raises(QuantizeError) as info:
        quantize(network)
    assert expected in str(info.value)


def test_non_finite_weights_and_inputs_are_refused():
    network = dyadic_network(2)
    network.blocks()[1].dense.W[0, 1] = np.nan
    with pytest.raises(QuantizeError, match=r"layer 1: weights is nan \(entry 1\)"):
        quantize(network)
    network = dyadic_network(2)
    network.preprocess.mean[0] = np.inf
    with pytest.raises(QuantizeError, match="preprocess: mean is inf"):
        quantize(network)
    network = dyadic_network(2)
    network.blocks()[0].batchnorm.eps = 0.0
    with pytest.raises(QuantizeError, match="layer 0 batch norm: eps is 0; expected finite "
                                            "numbers > 0"):
        quantize(network)


def test_variance_zero_is_still_accepted():
    # eps keeps the scale finite: a constant feature is a valid batch-norm input
    network = dyadic_network(3)
    network.blocks()[0].batchnorm.running_var[...] = 0.0
    assert len(quantize(network).layers) == 2


# -- a trained digits model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize("act, weights", [("int", "ternary"), ("pow2", "binary")])
def test_digits_qnet_accuracy_within_half_a_point(digits, act, weights):
    config = NetworkConfig(sizes=(64, 64, 10), weight_mode=weights, act_quant=act, act_bits=4,
                           act_frac_bits=2, quantized_backprop=act == "pow2")
    network, history = train_model(digits, config, TrainConfig(epochs=8, quiet=True, seed=1))
    qnet = quantize(network, digits)
    result = measure_agreement(network, qnet, digits.x_test, digits.y_test)
    assert result.float_accuracy == pytest.approx(history.final["test_acc"])
    assert result.float_accuracy > 0.85
    assert abs(result.qnet_accuracy - result.float_accuracy) <= 0.005
    # only the logit biases are rounded (to whole accumulator units): a few close calls flip
    assert result.disagreement <= 0.01
    assert result.layers[0].mismatch == 0.0  # hidden codes: exact
    _, classes = qnet.forward(digits.x_test)
    assert np.mean(classes == digits.y_test) == result.qnet_accuracy
    assert qnet.input.dataset == "digits" and qnet.meta["class_names"][0] == "0"
    # the network is untouched by quantization
    np.testing.assert_array_equal(network.forward(digits.x_test[:5].astype(np.float32), EVAL),
                                  float_blocks(network, digits.x_test[:5])[-1])


def test_left_shift_bias_rounding_is_reported_and_bounded():
    # a step finer than one accumulator unit: z = (acc + b) << m cannot hold every bias
    network = dyadic_network(0, sizes=(4, 5, 3, 3), activation="linear", frac_bits=3,
                             act_bits=12)
    qnet = quantize(network)
    report = qnet.meta["quantization"]["layers"][0]
    assert report["shift_min"] < 0 and report["bias_error"] > 0 and not report["exact"]
    x = all_inputs(4, 3)
    codes = float_blocks(network, x)[0] / report["step"]
    diff = np.abs(codes - qnet.forward_trace(x)[0]["out"])
    assert 0 < diff.max() <= report["bias_error"]
    left = qnet.layers[0].shift < 0
    assert not diff[:, ~left].any()  # right-shift neurons stay exact


@pytest.mark.parametrize(("arch", "activation"), [
    ("c4k3-p2-c6k3s2v-8-3", "relu"), ("c4k3s2-c5k2v-p2-8-3", "tlin")])
def test_conv_networks_quantize_exactly_on_colour_images(arch, activation):
    """Batch norm, a per-channel input mean and the first layer's raw-pixel padding fold into
    the QNet: every hidden code equals the float model's, on 3-channel images."""
    from golden_model.qnet import QConv2D

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 10 * 10 * 3))
    x[:, 1::3] //= 4  # channels with different means
    config = NetworkConfig(sizes=(300, 8, 3), input_bits=8, arch=arch, image_shape=(10, 10, 3),
                           act_quant="int", activation=activation, theta=0.25)
    network = build_network(config, x.mean(axis=0), rng)
    for i in range(0, 300, 50):  # training-mode passes set the batch-norm statistics
        network.forward(x[i:i + 50].astype(np.float32), RunMode(train=True, rng=rng))
    qnet = quantize(network, calibration_x=x)
    first = qnet.layers[0]
    assert isinstance(first, QConv2D) and first.pad_value.tolist() == [
        round(v) for v in x.reshape(-1, 3).mean(axis=0)]
    assert qnet.input.image_shape == (10, 10, 3)
    agreement = measure_agreement(network, qnet, x, np.zeros(300, int))
    for layer in agreement.layers[:-1]:
        assert layer.mismatch == 0 and layer.max_abs_diff == 0, layer
    # Logits differ only by the output bias rounding: at most half a unit.
    assert agreement.layers[-1].max_abs_diff <= 0.5


@pytest.mark.parametrize("common", [True, False])
def test_output_scales_with_a_common_factor_quantize_exactly(common):
    """Logit scales g * 2**p: the QNet drops g (recorded) and its exponents are exact,
    as with a power of two per logit (g = 1)."""
    network = dyadic_network(3, sizes=(4, 5, 3))
    network.config.output_common_scale = common
    bn = network.blocks()[-1].batchnorm
    bn.common_scale = common
    bn.gamma[...] = np.array([1.0, -0.5, 4.0]) * 1.37  # geometric mean not a power of two
    g = bn.common_factor(bn.running_var)
    assert (g != 1.0) == common
    qnet = quantize(network)
    info = qnet.meta["quantization"]
    assert info["logit_common_factor"] == g
    assert info["max_scale_error"] == 0.0
    x = all_inputs(4, 3)
    assert_codes_equal(network, qnet, x)
    np.testing.assert_array_equal(qnet.predict(x), network.predict(x))
