"""The hardware trainer equals the QTrain golden model bit for bit (Amaranth simulator).

Every test trains from a given state over a few samples with random valid/ready
gaps, reads every shadow weight and bias back through the state port and
compares them, the step and the classes (before the update) with
:func:`golden_model.qtrain.train_step`.
"""

import re

import numpy as np
import pytest
from qtrain_states import random_input, random_state

import hdl.trainer.trainer as trainer_module
from golden_model.datasets import load_dataset
from golden_model.qtrain import QTrainConfig, QTrainState, init_state, train_step
from hdl.trainer.export import TRAINER_TOP, trainer_rtlil
from hdl.trainer.lanes import update_shadow
from hdl.trainer.plan import TrainerPlanError, plan_trainer
from hdl.trainer.simulate import simulate_training, state_mismatches
from hdl.yosys_check import cell_counts, run_yosys

MODES = [("ternary", "deterministic"), ("ternary", "stochastic"),
         ("binary", "deterministic"), ("binary", "stochastic")]


def _golden(state, images, labels):
    expected = state.copy()
    classes = [train_step(expected, x, y)["predicted"] for x, y in zip(images, labels,
                                                                       strict=True)]
    return expected, classes


def _samples(rng, state, n):
    images = np.array([random_input(rng, state) for _ in range(n)])
    return images, rng.integers(0, state.layers[-1].n_out, n)


def _check(state, folding, images, labels, gap=0.3, seed=0):
    expected, classes = _golden(state, images, labels)
    result = simulate_training(state, folding, images, labels, gap=gap, seed=seed)
    assert state_mismatches(expected, result["state"]) == []
    assert result["classes"] == classes
    return result


@pytest.mark.parametrize("folding", [[(2, 4), (2, 2)], [(8, 1), (1, 8)]],
                         ids=["pe2x4", "pe8x1"])
@pytest.mark.parametrize("weight_mode,mode", MODES)
def test_16_8_4_equals_golden_model(weight_mode, mode, folding):
    rng = np.random.default_rng(len(folding[0]) + MODES.index((weight_mode, mode)))
    state = random_state(rng, sizes=(16, 8, 4), weight_mode=weight_mode, sampling=mode,
                         input_rounding=mode)
    _check(state, folding, *_samples(rng, state, 4), seed=3)


@pytest.mark.parametrize("sampling,rounding", [("deterministic", "stochastic"),
                                               ("stochastic", "deterministic")])
def test_three_layers_with_mixed_modes_per_unit_shifts_and_pow2(sampling, rounding):
    rng = np.random.default_rng(11)
    state = random_state(rng, sizes=(6, 4, 6, 3), sampling=sampling, input_rounding=rounding,
                         pow2=True, activation="tlin")
    assert len(set(state.layers[0].shift)) > 1
    _check(state, [(2, 3), (3, 2), (3, 3)], *_samples(rng, state, 4))


def test_step_counter_wraps_modulo_2_to_32():
    rng = np.random.default_rng(5)
    state = random_state(rng, sizes=(4, 4, 2), step=(1 << 32) - 2)
    result = _check(state, [(2, 2), (1, 2)], *_samples(rng, state, 4), gap=0.0)
    assert result["state"].step == 2


def test_state_port_reads_back_what_it_loaded_at_the_range_ends():
    rng = np.random.default_rng(6)
    state = random_state(rng, sizes=(4, 2, 2))
    state.layers[0].shadow[0, 0] = -state.config.w0
    state.layers[1].shadow[1, 1] = state.config.w0
    state.layers[1].bias[0] = -state.config.bias_limit
    result = simulate_training(state, [(1, 2), (2, 1)], np.zeros((0, 4), int), [])
    assert state_mismatches(state, result["state"]) == []


def test_busy_cycles_per_sample_equal_the_plan():
    rng = np.random.default_rng(7)
    state = random_state(rng, sizes=(8, 4, 2))
    folding = [(2, 2), (1, 4)]
    result = _check(state, folding, *_samples(rng, state, 3), gap=0.5)
    assert result["busy_cycles"] == [plan_trainer(state, folding).compute_cycles] * 3


def _digits_state(mode, input_bits):
    config = QTrainConfig(weight_mode="ternary", sampling=mode, input_rounding=mode,
                          w0_log2=10, bias_log2=12, target=64, delta_bits=16, eta=(2, 4),
                          eta_bias=(4, 4), backward_shift=(0, 4), decay_epochs=5, seed=3)
    return init_state((64, 16, 10), input_bits, config, shift=(0, 2))


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_digits_64_16_10_from_the_learn_defaults(mode):
    dataset = load_dataset("digits", seed=0, max_train=6)
    state = _digits_state(mode, dataset.input_bits)
    _check(state, [(4, 8), (2, 4)], dataset.x_train, dataset.y_train)


def test_off_by_one_update_shift_is_caught(monkeypatch):
    def broken(m, plan, lp, shadow, delta, negative, nonzero, exponent, word):
        return update_shadow(m, plan, lp, shadow, delta, negative, nonzero, exponent + 1, word)

    monkeypatch.setattr(trainer_module, "update_shadow", broken)
    rng = np.random.default_rng(8)
    state = random_state(rng, sizes=(4, 4, 2))
    images, labels = _samples(rng, state, 2)
    expected, _ = _golden(state, images, labels)
    result = simulate_training(state, [(2, 2), (1, 2)], images, labels)
    messages = state_mismatches(expected, result["state"])
    assert messages
    assert all(re.fullmatch(r"layer \d shadow row \d column \d: expected -?\d+, got -?\d+", m)
               for m in messages)


def test_no_multiplier_after_proc_and_opt():
    rng = np.random.default_rng(9)
    state = random_state(rng, sizes=(8, 4, 2), pow2=True, input_rounding="stochastic")
    design = trainer_rtlil(plan_trainer(state, [(2, 4), (2, 2)]))
    counts = cell_counts(run_yosys(design, "proc; opt", top=TRAINER_TOP))
    assert counts.get("$add", 0) > 0
    assert {cell: n for cell, n in counts.items() if "mul" in cell or "div" in cell
            or "mod" in cell} == {}


def test_tied_logits_give_the_lowest_class_like_argmax():
    rng = np.random.default_rng(10)
    state = random_state(rng, sizes=(4, 4, 3), sampling="deterministic")
    state.layers[1].shadow[:] = 0
    state.layers[1].bias[:] = 5
    state.layers[1].shift[:] = 0
    state = QTrainState(input=state.input, layers=state.layers, config=state.config)
    images, _ = _samples(rng, state, 2)
    result = _check(state, [(2, 2), (3, 1)], images, np.array([2, 1]))
    assert result["classes"][0] == 0


def test_single_layer_network_has_no_backward():
    rng = np.random.default_rng(12)
    state = random_state(rng, sizes=(6, 3))
    folding = [(3, 2)]
    result = _check(state, folding, *_samples(rng, state, 3))
    plan = plan_trainer(state, folding)
    assert result["busy_cycles"][0] == plan.compute_cycles == \
        4 * (1 + 1) + 5 + 7 + 2 + 1 + (3 + 1 + 3) + (6 + 3 + 1)


def test_samples_are_checked_before_simulating():
    rng = np.random.default_rng(13)
    state = random_state(rng, sizes=(4, 2, 2), input_bits=3)
    with pytest.raises(TrainerPlanError, match="images as integers in \\[0, 8\\)"):
        simulate_training(state, [(1, 1), (1, 1)], np.full((1, 4), 8), [0])


def _edge_shadows(rng, state):
    """Every shadow next to a deterministic threshold (``|S| > W0/2``; ``S >= 0``), where
    the stochastic sample often differs from the deterministic one; no biases to hide it."""
    w0 = state.config.w0
    edges = np.array([w0 // 2, w0 // 2 + 1, -(w0 // 2), -(w0 // 2) - 1, 0, -1, w0, -w0])
    for layer in state.layers:
        layer.shadow = rng.choice(edges, layer.shadow.shape)
        layer.bias = np.zeros_like(layer.bias)


@pytest.mark.parametrize("weight_mode,mode", MODES)
def test_evaluations_between_training_samples_are_the_qnet_forward_and_change_nothing(
        weight_mode, mode):
    rng = np.random.default_rng(20 + MODES.index((weight_mode, mode)))
    state = random_state(rng, sizes=(16, 8, 4), weight_mode=weight_mode, sampling=mode,
                         input_rounding=mode, activation="linear", pow2=False)
    _edge_shadows(rng, state)
    folding = [(2, 4), (2, 2)]
    evaluate = [True, False, True, True, False, True, True, False] + [True] * 12
    images, labels = _samples(rng, state, len(evaluate))
    expected, classes, sampled = state.copy(), [], []
    for x, y, flag in zip(images, labels, evaluate, strict=True):
        if flag:
            classes.append(int(expected.to_qnet(meta={}).predict(x[None])[0]))
            sampled.append(train_step(expected.copy(), x, y)["predicted"])
        else:
            classes.append(train_step(expected, x, y)["predicted"])
            sampled.append(classes[-1])
    if mode == "stochastic":
        # The weights an evaluation uses matter here: sampled ones give other classes.
        assert sampled != classes
    result = simulate_training(state, folding, images, labels, gap=0.3, seed=4,
                               evaluate=evaluate)
    # The state and the step move with the training samples only.
    assert state_mismatches(expected, result["state"]) == []
    assert result["state"].step == (state.step + evaluate.count(False)) & 0xFFFFFFFF
    assert result["classes"] == classes
    plan = plan_trainer(state, folding)
    busy = np.array(result["busy_cycles"])
    flags = np.array(evaluate)
    assert (busy[~flags] == plan.compute_cycles).all()
    # An evaluation ends with its class: a consumer that is not ready holds it.
    assert (busy[flags] >= plan.eval_compute_cycles).all()
    assert (busy[flags] == plan.eval_compute_cycles).sum() > flags.sum() // 2
    # Tiles (4 x 4 and 2 x 4), one cycle of latency, the units; one back to idle.
    assert plan.eval_compute_cycles == (16 + 1 + 8) + (8 + 1 + 4) + 1


def test_evaluation_flag_count_is_checked():
    rng = np.random.default_rng(14)
    state = random_state(rng, sizes=(4, 2, 2))
    with pytest.raises(TrainerPlanError, match="evaluate: expected 1 flags"):
        simulate_training(state, [(1, 1), (1, 1)], np.zeros((1, 4), int), [0],
                          evaluate=[True, False])


@pytest.mark.parametrize("folding,spram", [([(1, 4), (2, 2)], (0,)), ([(1, 2), (2, 1)], (0, 1))],
                         ids=["layer0", "both"])
def test_shadows_in_spram_equal_the_golden_model_with_two_cycles_an_update_tile(folding, spram):
    rng = np.random.default_rng(30 + len(spram))
    state = random_state(rng, sizes=(16, 8, 4))
    images, labels = _samples(rng, state, 4)
    evaluate = [False, True, False, False]
    expected, classes = state.copy(), []
    for x, y, flag in zip(images, labels, evaluate, strict=True):
        classes.append(int(expected.to_qnet(meta={}).predict(x[None])[0]) if flag
                       else train_step(expected, x, y)["predicted"])
    result = simulate_training(state, folding, images, labels, gap=0.3, seed=5,
                               evaluate=evaluate, spram=spram)
    assert state_mismatches(expected, result["state"]) == []
    assert result["classes"] == classes
    plan = plan_trainer(state, folding, spram)
    assert [lp.spram for lp in plan.layers] == [k in spram for k in range(2)]
    # The single port reads and writes back a tile in two cycles.
    plain = plan_trainer(state, folding)
    assert plan.compute_cycles == plain.compute_cycles + sum(
        plan.layers[k].depth - 1 for k in spram)
    assert [c for c, flag in zip(result["busy_cycles"], evaluate, strict=True) if not flag] \
        == [plan.compute_cycles] * 3


@pytest.mark.parametrize("spram,message", [
    ((2,), "spram: expected layer indices below 2"),
    ((True,), "spram: expected layer indices"),
    ((0, 1), "need 5 SPRAM cells side by side; the UP5K has 4"),
])
def test_spram_layers_are_checked(spram, message):
    state = random_state(np.random.default_rng(31), sizes=(16, 8, 4))
    assert state.config.w0_log2 + 2 == 9       # 36- and 18-bit words: 3 and 2 cells
    with pytest.raises(TrainerPlanError, match=message):
        plan_trainer(state, [(1, 4), (2, 1)], spram)
