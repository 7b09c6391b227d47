"""Network container: structure, blocks, state, end-to-end gradient, integer equivalence."""

import numpy as np
import pytest
from golden_gradcheck import numeric_grad

from golden_model.act_quant import ActQuant
from golden_model.activations import Activation
from golden_model.batchnorm import BatchNorm
from golden_model.dense import Dense
from golden_model.dropout import Dropout
from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode
from golden_model.losses import softmax_cross_entropy
from golden_model.network import NetworkConfig, build_network
from golden_model.preprocess import Preprocess


def test_layer_order_and_blocks():
    config = NetworkConfig(sizes=(8, 6, 5, 3), input_bits=4, act_quant="int", dropout=0.1,
                           activation="tlin")
    net = build_network(config, np.arange(8))
    kinds = [type(layer) for layer in net.layers]
    hidden = [Dense, BatchNorm, Activation, ActQuant, Dropout]
    assert kinds == [Preprocess, *hidden, *hidden, Dense, BatchNorm]
    blocks = net.blocks()
    assert len(blocks) == 3
    assert blocks[0].act_quant.signed and blocks[0].act_quant.step == blocks[0].activation.step
    assert blocks[2].activation is None and blocks[2].act_quant is None
    assert blocks[1].batchnorm.in_scale == blocks[1].dense.alpha
    assert all(b.dense.b is None for b in blocks)  # batch norm makes the bias redundant
    np.testing.assert_array_equal(net.preprocess.mean, np.arange(8))


def test_without_batchnorm_or_quantizer():
    net = build_network(NetworkConfig(sizes=(4, 3, 2), batchnorm=False, weight_mode="float"))
    assert [type(layer) for layer in net.layers] == [Preprocess, Dense, Activation, Dense]
    assert net.layers[1].b is not None and net.layers[2].step is None


def test_bad_config():
    with pytest.raises(MulfreeError, match="architecture"):
        NetworkConfig(sizes=(10,))
    with pytest.raises(MulfreeError, match="input mean"):
        build_network(NetworkConfig(sizes=(4, 2)), np.zeros(5))


def test_config_round_trip():
    config = NetworkConfig(sizes=(4, 3, 2), qb_range=(-2, 2), act_quant="pow2")
    assert NetworkConfig.from_dict(config.to_dict()) == config


def test_state_round_trip_reproduces_outputs():
    config = NetworkConfig(sizes=(5, 4, 3), input_bits=3)
    a = build_network(config, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, 8, (6, 5))
    a.forward(x, RunMode(train=True, rng=np.random.default_rng(2)))  # moves running stats
    b = build_network(config, rng=np.random.default_rng(9))
    b.load_state(a.state())
    np.testing.assert_array_equal(a.logits(x), b.logits(x))
    assert a.predict(x).shape == (6,)
    assert a.logits(x[:0]).shape == (0, 3) and a.predict(x[:0]).shape == (0,)


def test_end_to_end_gradient_float_network():
    config = NetworkConfig(sizes=(4, 5, 3), weight_mode="float", activation="linear",
                           input_bits=0, shift_based=False)
    net = build_network(config, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4))
    labels = rng.integers(0, 3, 7)
    mode = RunMode(train=True, rng=rng)
    w = net.layers[1].W.astype(np.float64)
    net.layers[1]._W.value = w

    def loss():
        return softmax_cross_entropy(net.forward(x, mode), labels)[0]

    _, grad = softmax_cross_entropy(net.forward(x, mode), labels)
    net.backward(grad)
    np.testing.assert_allclose(net.layers[1].parameters()[0].grad, numeric_grad(loss, w, 1e-2),
                               rtol=2e-3, atol=1e-6)


def test_after_update_clips_shadow_weights():
    net = build_network(NetworkConfig(sizes=(4, 3, 2), weight_mode="binary"))
    for block in net.blocks():
        block.dense.W[...] = 5
    net.after_update()
    assert all(np.all(b.dense.W == np.float32(b.dense.w0)) for b in net.blocks())


def test_first_hidden_layer_is_integer_arithmetic():
    """Eval-mode codes equal ``(acc + b) >> s`` on raw pixels, with an integer bias."""
    rng = np.random.default_rng(0)
    config = NetworkConfig(sizes=(16, 12, 3), input_bits=4, act_quant="int", act_bits=5,
                           act_frac_bits=2, activation="relu")
    x = rng.integers(0, 16, (400, 16))
    net = build_network(config, x.mean(axis=0), rng)
    net.forward(x[:200], RunMode(train=True, rng=rng))  # non-trivial batch-norm statistics
    block = net.blocks()[0]
    bn, quant = block.batchnorm, block.act_quant
    bn.gamma[...] = rng.uniform(0.3, 3, 12)
    bn.beta[...] = rng.uniform(-1, 1, 12)
    # u / step = scale * acc + c, with scale a power of two (by construction)
    total = block.dense.alpha * bn.eval_scale().astype(np.float64)
    scale = total * 2.0 ** (quant.frac_bits - config.input_bits)
    shift = -np.round(np.log2(scale)).astype(np.int64)
    np.testing.assert_allclose(scale, 2.0 ** -shift.astype(float), rtol=1e-6)
    assert np.all(shift >= 0)
    w_int = block.dense.quantized_weights().astype(np.int64)
    acc = x @ w_int.T
    c = (bn.beta - total * (w_int @ net.preprocess.mean) * 2.0**-config.input_bits
         - bn.eval_scale() * bn.running_mean) / quant.step
    bias = np.floor((c + 0.5) * 2.0**shift).astype(np.int64)
    z = (acc + bias) >> shift
    codes = np.clip(np.maximum(z, 0), 0, 31)
    h = x.astype(np.float32)
    for layer in net.layers[:5]:
        h = layer.forward(h, EVAL)
    mismatches = np.count_nonzero(np.round(h / quant.step) != codes)
    assert mismatches <= 2, mismatches  # only float32 rounding right at a code boundary


def test_only_the_output_batch_norm_has_a_common_scale():
    net = build_network(NetworkConfig(sizes=(6, 5, 4, 3)))
    norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    assert [bn.common_scale for bn in norms] == [False, False, True]
    net = build_network(NetworkConfig(sizes=(6, 5, 3), output_common_scale=False))
    assert not any(layer.common_scale for layer in net.layers if isinstance(layer, BatchNorm))
    assert NetworkConfig.from_dict({"sizes": [6, 5, 3]}).output_common_scale is False
    assert NetworkConfig.from_dict(NetworkConfig().to_dict()).output_common_scale is True
