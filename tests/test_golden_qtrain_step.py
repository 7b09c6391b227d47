"""QTrain step: against the loop reference, by hand on a 3-2-2 network, export, reproducibility."""

import numpy as np
import pytest
from qtrain_reference import reference_step
from qtrain_states import random_input, random_state

from golden_model.qnet import InputSpec
from golden_model.qtrain import QTrainConfig, QTrainLayer, QTrainState, train_step
from golden_model.qtrain.step import forward, output_error, sample_layer_weights, step_words


@pytest.mark.parametrize("weight_mode", ["ternary", "binary"])
@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_step_equals_loop_reference_on_random_states(weight_mode, mode):
    rng = np.random.default_rng(12 + len(mode) + len(weight_mode))
    for trial in range(12):
        state = random_state(rng, weight_mode=weight_mode, sampling=mode,
                             input_rounding=mode, epoch=int(rng.integers(0, 5)),
                             decay_epochs=int(rng.integers(0, 3)))
        x = random_input(rng, state)
        label = int(rng.integers(0, state.layers[-1].n_out))
        shadows, biases, loss = reference_step(state, x, label)
        step = state.step
        result = train_step(state, x, label)
        assert result["loss"] == loss
        assert state.step == step + 1
        for k, layer in enumerate(state.layers):
            np.testing.assert_array_equal(layer.shadow, shadows[k], err_msg=f"trial {trial}")
            np.testing.assert_array_equal(layer.bias, biases[k], err_msg=f"trial {trial}")


def _state_322(**config):
    base = dict(weight_mode="ternary", sampling="deterministic",
                input_rounding="deterministic", w0_log2=10, bias_log2=8, target=4,
                delta_bits=8, eta=(0, 0), eta_bias=(0, 0), backward_shift=(0, 0), seed=5)
    base.update(config)
    layers = [
        QTrainLayer(shadow=np.array([[600, -700, 100], [-300, 900, -800]]),
                    bias=np.array([1, 0]), shift=np.array([0, 0]), activation="relu",
                    out_bits=3),
        QTrainLayer(shadow=np.array([[1022, -600], [-520, 513]]), bias=np.array([0, -1]),
                    shift=np.array([0, 0]), activation="linear"),
    ]
    return QTrainState(input=InputSpec(n_inputs=3, bits=2), layers=layers,
                       config=QTrainConfig(**base))


def test_hand_computed_step_of_a_3_2_2_network():
    state = _state_322()
    result = train_step(state, np.array([3, 1, 2]), 0)
    # W0 = [[1,-1,0],[0,1,-1]]: acc [2,-1], z [3,-1], y [3,0], mask [1,0].
    np.testing.assert_array_equal(result["trace"][0]["z"], [3, -1])
    np.testing.assert_array_equal(result["trace"][0]["mask"], [True, False])
    # W1 = [[1,-1],[-1,1]]: logits [3,-4]; margins [1,0]; error [-1,0]; loss 1.
    np.testing.assert_array_equal(result["trace"][1]["z"], [3, -4])
    np.testing.assert_array_equal(result["error"], [-1, 0])
    assert result["loss"] == 1 and result["predicted"] == 0
    # Backward: W1^T [-1,0] = [-1,1], masked -> [-1,0].
    np.testing.assert_array_equal(result["deltas"][0], [-1, 0])
    # Layer 1 input [3,0] -> 2^2, 0: S1[0,0] = 1022 + 4 clips to 1024.
    np.testing.assert_array_equal(state.layers[1].shadow, [[1024, -600], [-520, 513]])
    np.testing.assert_array_equal(state.layers[1].bias, [1, -1])
    # Layer 0 input [3,1,2] -> 4, 1, 2 times delta -1 on row 0 only.
    np.testing.assert_array_equal(state.layers[0].shadow, [[604, -699, 102], [-300, 900, -800]])
    np.testing.assert_array_equal(state.layers[0].bias, [2, 0])
    assert state.step == 1


def test_hand_computed_step_rounds_the_update_with_the_contract_bits():
    from qtrain_reference import word

    state = _state_322(eta=(0, 3), seed=77)
    train_step(state, np.array([3, 1, 2]), 0)
    # Row 0 of layer 1: v = -1 << 2 = -4; (v + rho) >> 3 is -1 for rho < 4, else 0.
    rho = (word(77, 0, 1, 0, 0) >> 16) & 7
    assert state.layers[1].shadow[0, 0] == min(1024, 1022 - ((-4 + rho) >> 3))


def test_export_forward_equals_qtrain_forward_exactly():
    rng = np.random.default_rng(3)
    for _ in range(20):
        state = random_state(rng, sampling="deterministic")
        qnet = state.to_qnet()
        words = step_words(state)
        weights = [sample_layer_weights(state, k, *words[k]) for k in range(len(state.layers))]
        xs = rng.integers(0, 1 << state.input.bits, (16, state.input.n_inputs))
        xs[0] = (1 << state.input.bits) - 1
        logits, _ = qnet.forward(xs)
        for x, expected in zip(xs, logits, strict=True):
            np.testing.assert_array_equal(forward(state, x, weights)[-1]["z"], expected)


def test_run_is_reproducible_bit_for_bit_from_the_seed():
    rng = np.random.default_rng(8)
    base = random_state(rng, step=0)
    xs = rng.integers(0, 1 << base.input.bits, (30, base.input.n_inputs))
    labels = rng.integers(0, base.layers[-1].n_out, 30)
    runs = []
    for seed in (base.config.seed, base.config.seed, base.config.seed ^ 1):
        state = base.copy()
        state.config.seed = seed
        for x, label in zip(xs, labels, strict=True):
            train_step(state, x, label)
        runs.append(np.concatenate([np.r_[layer.shadow.ravel(), layer.bias]
                                    for layer in state.layers]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.any(runs[0] != runs[2])


def test_output_error_is_the_squared_hinge_clipped():
    error, delta, loss = output_error([5, -9, 2, -1], 2, target=4, delta_limit=7)
    np.testing.assert_array_equal(error, [9, 0, -2, 3])
    np.testing.assert_array_equal(delta, [7, 0, -2, 3])
    assert loss == 81 + 0 + 4 + 9
