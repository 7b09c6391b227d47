"""QTrain widths: every intermediate stays inside its recorded bound, which is reached."""

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.qtrain import QTrainError, train_step


def _values(result, k):
    """Every intermediate of layer ``k`` in one step, by bound name."""
    trace, update = result["trace"][k], result["update"][k]
    values = {
        "input": trace["input"], "acc": trace["acc"], "z": trace["z"], "out": trace["out"],
        "delta": result["deltas"][k], "exponent": update["exponent"],
        "update_sum": update["update_sum"], "delta_shadow": update["delta_shadow"],
        "shadow_pre_clip": update["shadow_pre_clip"], "bias_sum": update["bias_sum"],
        "delta_bias": update["delta_bias"], "bias_pre_clip": update["bias_pre_clip"],
    }
    if k == len(result["trace"]) - 1:
        values["error"] = result["error"]
    if k:
        values["backward"] = result["backward"][k]
    return values


def _adversarial(rng, state, sign):
    """Shadows and biases at their clip ends, so sums and errors reach their bounds."""
    for layer in state.layers:
        layer.shadow[:] = sign * state.config.w0
        layer.bias[:] = sign * state.config.bias_limit
    x = np.full(state.input.n_inputs, (1 << state.input.bits) - 1)
    return x


@pytest.mark.parametrize("weight_mode", ["ternary", "binary"])
def test_no_intermediate_leaves_its_width_at_adversarial_and_random_states(weight_mode):
    rng = np.random.default_rng(21)
    reached = set()
    for trial in range(60):
        state = random_state(rng, weight_mode=weight_mode, delta_bits=int(rng.integers(3, 9)))
        if trial % 3 == 0:
            x = _adversarial(rng, state, 1 if trial % 2 else -1)
        else:
            x = rng.integers(0, 1 << state.input.bits, state.input.n_inputs)
        label = int(rng.integers(0, state.layers[-1].n_out))
        widths = [w.ranges for w in state.widths]
        result = train_step(state, x, label)
        for k, bounds in enumerate(widths):
            for name, value in _values(result, k).items():
                lo, hi = bounds[name]
                assert lo <= value.min() and value.max() <= hi, (trial, k, name)
                if value.min() == lo or value.max() == hi:
                    reached.add((k, name))
    # The forward sums and the first layer's input are reached exactly.
    assert {(0, "input"), (0, "acc"), (0, "z"), (2, "delta")} <= reached


def test_widths_are_recorded_with_bits():
    rng = np.random.default_rng(4)
    state = random_state(rng)
    entry = state.widths[0].to_json()
    lo, hi, bits = entry["acc"]
    assert lo == -state.layers[0].n_in * 15 and hi == -lo
    assert bits == int(hi).bit_length() + 1


def test_a_state_whose_updates_would_overflow_int64_is_refused():
    rng = np.random.default_rng(5)
    state = random_state(rng, delta_bits=10, activation="relu")
    state.config.delta_bits = 32
    state.layers[0].out_bits = 31
    state.layers[0].shift[:] = -30
    with pytest.raises(QTrainError, match="width"):
        type(state)(input=state.input, layers=state.layers, config=state.config)
