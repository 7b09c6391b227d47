"""The trainer plan: folding checks, memory geometry, widths, word packing, cycle count."""

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.errors import MulfreeError
from golden_model.qtrain.random_bits import mix
from hdl.trainer.plan import (
    TrainerPlanError,
    bias_from_words,
    bias_words,
    check_samples,
    plan_trainer,
    shadow_from_words,
    shadow_words,
)


@pytest.fixture
def state():
    return random_state(np.random.default_rng(1), sizes=(8, 6, 4))


def test_geometry_and_widths_come_from_the_state_and_folding(state):
    plan = plan_trainer(state, [(3, 4), (2, 3)])
    first, second = plan.layers
    assert (first.row_groups, first.column_groups, first.depth) == (2, 2, 4)
    assert (second.row_groups, second.column_groups, second.depth) == (2, 2, 4)
    assert first.shadow_bits == state.config.w0_log2 + 2
    assert first.shadow_word_bits == 12 * first.shadow_bits
    assert first.bias_word_bits == 3 * (state.config.bias_log2 + 2)
    assert first.bits["acc"] == state.widths[0].bits("acc")
    assert second.last and not first.last
    assert plan.seed_mix == int(mix(state.config.seed))
    assert plan.mix_jobs == 1 + (1 + 8 + 9) + (1 + 6 + 7)


def test_eta_is_taken_at_the_states_epoch():
    state = random_state(np.random.default_rng(2), sizes=(4, 2, 2), epoch=7, decay_epochs=3)
    plan = plan_trainer(state, [(1, 1), (1, 1)])
    assert [(lp.eta, lp.eta_bias) for lp in plan.layers] == [state.eta(0), state.eta(1)]
    assert plan.layers[0].eta == min(16, state.config.eta[0] + 2)


def test_compute_cycles_counts_every_phase(state):
    plan = plan_trainer(state, [(1, 8), (4, 1)])
    assert [lp.depth for lp in plan.layers] == [6, 6]
    # Four cycles per key (step, then one per layer), one per row and column word,
    # two for the last words to leave the pipeline.
    words = (6 + 2) + (8 + 1) + (4 + 2) + (6 + 1)
    mixes = 4 * (1 + 2) + words + 2
    assert plan.mix_cycles == mixes and plan.mix_jobs == 1 + 2 + words
    forward = (6 + 1 + 6) + (6 + 1 + 4)
    backward = 6 + 1 + 6
    update = (8 + 6 + 1) + (6 + 6 + 1)
    assert plan.compute_cycles == mixes + forward + backward + update + 1
    assert plan.cycles_per_sample == plan.compute_cycles + 9


@pytest.mark.parametrize("folding,message", [
    ([(1, 1)], "2 \\(PE, SIMD\\) pairs"),
    ([(4, 1), (1, 1)], "folding\\[0\\] PE: expected a positive divisor of 6, got 4"),
    ([(1, 1), (1, 0)], "folding\\[1\\] SIMD: expected a positive divisor of 6, got 0"),
    ([(1, 1), (1,)], "folding\\[1\\]: expected a \\(PE, SIMD\\) pair"),
    ([(1, True), (1, 1)], "SIMD"),
])
def test_bad_folding_is_one_clear_error(state, folding, message):
    with pytest.raises(TrainerPlanError, match=message) as error:
        plan_trainer(state, folding)
    assert isinstance(error.value, MulfreeError)


def test_words_round_trip_with_negative_values_and_extremes(state):
    plan = plan_trainer(state, [(3, 2), (2, 3)])
    for k, layer in enumerate(state.layers):
        lp = plan.layers[k]
        shadow = layer.shadow.copy()
        shadow[0, 0], shadow[-1, -1] = state.config.w0, -state.config.w0
        words = shadow_words(lp, shadow)
        assert len(words) == lp.depth
        assert all(0 <= w < 1 << lp.shadow_word_bits for w in words)
        np.testing.assert_array_equal(shadow_from_words(lp, words), shadow)
        bias = layer.bias.copy()
        bias[0] = -state.config.bias_limit
        np.testing.assert_array_equal(bias_from_words(lp, bias_words(lp, bias)), bias)


def test_tile_layout_puts_lane_p_s_at_its_offset(state):
    lp = plan_trainer(state, [(3, 4), (2, 3)]).layers[0]
    shadow = np.zeros((6, 8), dtype=np.int64)
    shadow[4, 6] = -1            # row group 1, column group 1, lane (1, 2)
    words = shadow_words(lp, shadow)
    address, lane = 1 * 2 + 1, 1 * 4 + 2
    mask = (1 << lp.shadow_bits) - 1
    assert words[address] == mask << (lane * lp.shadow_bits)
    assert all(w == 0 for a, w in enumerate(words) if a != address)


@pytest.mark.parametrize("images,labels,message", [
    (np.zeros((2, 7), int), [0, 1], "images of shape \\(n, 8\\) and n labels, got \\(2, 7\\)"),
    (np.zeros((2, 8), int), [0], "got \\(2, 8\\) and \\(1,\\)"),
    (np.full((1, 8), 16), [0], "images as integers in \\[0, 16\\), got int64 in \\[16, 16\\]"),
    (np.full((1, 8), -1), [0], "images as integers in \\[0, 16\\)"),
    (np.full((1, 8), 0.5), [0], "images as integers in \\[0, 16\\), got float64"),
    (np.zeros((1, 8), int), [4], "labels as integers in \\[0, 4\\), got int64 in \\[4, 4\\]"),
])
def test_bad_samples_are_one_clear_error(state, images, labels, message):
    plan = plan_trainer(state, [(1, 1), (1, 1)])
    assert plan.input_bits == 4
    with pytest.raises(TrainerPlanError, match=message):
        check_samples(plan, images, labels)


def test_good_samples_come_back_as_int64(state):
    plan = plan_trainer(state, [(1, 1), (1, 1)])
    images, labels = check_samples(plan, np.full((2, 8), 15, dtype=np.uint8), [3, 0])
    assert images.dtype == labels.dtype == np.int64
    assert labels.tolist() == [3, 0]


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_random_words_keep_exactly_the_bits_the_lanes_read(mode):
    state = random_state(np.random.default_rng(3), sizes=(8, 6, 4), sampling=mode,
                         input_rounding=mode)
    plan = plan_trainer(state, [(1, 1), (1, 1)])
    for lp in plan.layers:
        low = lp.backward_shift
        if mode == "stochastic":
            low = max(low, plan.w0_log2 + 1, lp.bits["input"] + 1)
        high = max(lp.eta, lp.eta_bias)
        expected = sorted(set(range(low)) | set(range(16, 16 + high))) or [0]
        assert list(plan.random_bit_positions(lp)) == expected
        assert all(0 <= b < 32 for b in expected)
