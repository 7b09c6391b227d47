"""The trainer's Verilog under cocotb equals the QTrain golden model over a whole digits epoch.

Each run has two segments with a reset between them: a few samples at full
rate (the class comes out every ``cycles_per_sample`` cycles, as the plan
says), then the whole epoch with random valid/ready gaps. Every shadow
weight, bias, the step and every class are compared.
"""

import numpy as np
import pytest
from qtrain_states import random_input, random_state

from golden_model.datasets import load_dataset
from golden_model.qtrain import QTrainConfig, init_state
from golden_model.qtrain.epochs import epoch_order
from sim.trainer_check import Segment, check_trainer

pytestmark = pytest.mark.slow


def _assert_passed(check, n_full_rate):
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert check.mismatches == [[], []]
    assert check.class_mismatches == [[], []]
    assert check.class_intervals[0] == [check.plan.cycles_per_sample] * (n_full_rate - 1)


@pytest.mark.parametrize("mode,folding", [("stochastic", [(4, 8), (2, 4)]),
                                          ("deterministic", [(2, 16), (5, 2)])])
def test_whole_digits_epoch_on_verilator(mode, folding):
    dataset = load_dataset("digits", seed=0)
    config = QTrainConfig(weight_mode="ternary", sampling=mode, input_rounding=mode,
                          w0_log2=10, bias_log2=12, target=64, delta_bits=16, eta=(2, 4),
                          eta_bias=(4, 4), backward_shift=(0, 4), decay_epochs=5, seed=3)
    state = init_state((64, 16, 10), dataset.input_bits, config, shift=(0, 2))
    order = epoch_order(config.seed, 0, len(dataset.y_train))
    images, labels = dataset.x_train[order], dataset.y_train[order]
    assert len(labels) >= 1000
    check = check_trainer([Segment(state, images[:4], labels[:4]),
                           Segment(state, images, labels, in_gap=0.2, out_gap=0.2, seed=1)],
                          folding, "verilator")
    _assert_passed(check, 4)


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_binary_stochastic_small_net(simulator):
    rng = np.random.default_rng(4)
    state = random_state(rng, sizes=(16, 8, 4), weight_mode="binary", step=(1 << 32) - 5)
    images = np.array([random_input(rng, state) for _ in range(24)])
    labels = rng.integers(0, 4, 24)
    check = check_trainer([Segment(state, images[:3], labels[:3]),
                           Segment(state, images, labels, in_gap=0.4, out_gap=0.4, seed=2)],
                          [(2, 4), (4, 1)], simulator)
    _assert_passed(check, 3)
