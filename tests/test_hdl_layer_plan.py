import numpy as np
import pytest
from hdl_nets import random_qnet

from golden_model.qnet import signed_bits
from hdl.accelerator import Accelerator
from hdl.errors import HardwareGenerationError
from hdl.layer_plan import MAX_MEMORY_BITS, plan_layer, plan_layers


@pytest.mark.parametrize("folding,message", [
    ([(17, 1), (1, 1)], r"layer 0: pe: expected 1 <= pe <= n_out = 16, got 17"),
    ([(1, 1), (1, 0)], r"layer 1: simd: expected 1 <= simd <= n_in = 16, got 0"),
    ([(1, 65), (1, 1)], r"layer 0: simd: expected .* n_in = 64, got 65"),
    ([(1, 1)], r"folding: expected 2 \(pe, simd\) pairs"),
    ([(1, 1), (1.5, 1)], r"layer 1: pe: expected an integer"),
    ([(1, 1), 3], r"layer 1: folding: expected a \(pe, simd\) pair"),
    ("fast", r"folding: expected None, 'auto' or a list"),
])
def test_bad_folding_names_layer_and_parameter(folding, message):
    with pytest.raises(HardwareGenerationError, match=message):
        Accelerator(random_qnet(1), folding=folding)


@pytest.mark.parametrize("in_lanes", [0, 65, 2.0, True])
def test_bad_in_lanes(in_lanes):
    with pytest.raises(HardwareGenerationError, match="in_lanes"):
        Accelerator(random_qnet(1), in_lanes=in_lanes)


def test_width_beyond_limit_is_rejected_before_elaboration():
    # A valid QNet (every z within 48 bits) whose shared shifter would need 42 + 31 bits:
    # one neuron with a huge bias shifted right, one with a small sum shifted left by 31.
    qnet = random_qnet(1, sizes=(4, 2, 2), bits=15)
    layer = qnet.layers[0]
    layer.weights[:] = [[1, 1, 1, 1], [1, 0, 0, 0]]
    layer.bias[:] = [1 << 40, 0]
    layer.shift[:] = [31, -31]
    qnet = type(qnet)(input=qnet.input, layers=qnet.layers)
    with pytest.raises(HardwareGenerationError,
                       match=r"layer 0: shifter width: expected at most 64 bits, got 73"):
        plan_layers(qnet, [(1, 1), (1, 1)])


def test_memory_that_cannot_be_mapped():
    # within the QNet format's size limits, beyond what one weight memory maps
    qnet = random_qnet(1, sizes=(4096, 2049, 2), bits=1)
    with pytest.raises(HardwareGenerationError, match=r"layer 0: weight memory: expected at most"):
        plan_layer(qnet, 0, 1, 1, 1)
    assert 4096 * 2049 * 2 > MAX_MEMORY_BITS


def test_padding_of_uneven_folding():
    qnet = random_qnet(1, sizes=(10, 5, 3))
    plan = plan_layer(qnet, 0, 2, 4, 1)
    assert (plan.neuron_folds, plan.input_folds) == (3, 3)
    assert len(plan.weight_words) == 9
    # Unpack word (nf, f) lane (p, s): padding rows and columns are zero weights.
    w = np.zeros((6, 12), dtype=np.int64)
    for word_index, word in enumerate(plan.weight_words):
        nf, f = divmod(word_index, plan.input_folds)
        for lane in range(8):
            p, s = divmod(lane, 4)
            code = (word >> (2 * lane)) & 3
            w[nf * 2 + p, f * 4 + s] = 0 if not code & 1 else (-1 if code & 2 else 1)
    assert np.array_equal(w[:5, :10], qnet.layers[0].weights)
    assert not w[5:].any() and not w[:, 10:].any()


def test_accumulator_holds_every_partial_sum():
    qnet = random_qnet(1, sizes=(8, 2, 2), bits=4)
    qnet.layers[0].weights[:] = [[1] * 8, [-1] * 8]
    plan = plan_layer(qnet, 0, 1, 1, 1)
    # -120 .. 120, one step of headroom each side for the tree's pending carry.
    assert plan.acc_width == signed_bits(-121, 121) == 8


@pytest.mark.parametrize("images, message", [
    (0, r"layer 0: images: expected an integer in \[1, 8\], got 0"),
    (9, r"layer 0: images: expected an integer in \[1, 8\], got 9"),
    (True, r"layer 0: images: expected an integer in \[1, 8\], got True"),
    ("2", r"layer 0: images: expected an integer in \[1, 8\], got '2'"),
    # Layer 1 (16 inputs at SIMD 16) has one input fold: too short to hand on 2 results.
    (2, r"layer 1: images: expected at most its ceil\(n_in/simd\) = 1 input folds, got 2"),
])
def test_bad_images_in_flight_name_layer_and_parameter(images, message):
    with pytest.raises(HardwareGenerationError, match=message):
        plan_layers(random_qnet(1), [(4, 8), (2, 16)], images=images)


def test_images_in_flight_widen_the_input_buffer_only():
    qnet = random_qnet(1)
    one, three = (plan_layers(qnet, [(4, 8), (2, 4)], images=b) for b in (1, 3))
    for a, b in zip(one, three, strict=True):
        assert (a.images, b.images) == (1, 3)
        assert b.buffer_bits == 3 * a.buffer_bits
        assert b.weight_words == a.weight_words and b.compute_cycles == a.compute_cycles
