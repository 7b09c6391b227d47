import pytest
from hdl_nets import random_qnet

from hdl.accelerator import Accelerator
from hdl.accelerator_plan import plan_accelerator
from hdl.errors import HardwareGenerationError
from hdl.estimate import accelerator_estimate
from hdl.folding import auto_folding, resolve_folding
from hdl.layer_plan import plan_layers


def _report(qnet, folding, in_lanes):
    return accelerator_estimate(plan_layers(qnet, folding, in_lanes), qnet.n_classes)


def test_none_is_fully_folded():
    assert resolve_folding(random_qnet(1), None) == [(1, 1), (1, 1)]


@pytest.mark.parametrize("target", [512, 128, 64, 16])
def test_auto_reaches_target_and_balances(target):
    qnet = random_qnet(1)
    folding = auto_folding(qnet, in_lanes=8, target_cycles=target)
    report = _report(qnet, folding, 8)
    assert report["cycles_per_image"] <= target
    # Not wastefully parallel: every layer is within the target, none is far below it
    # unless it is already at one fold.
    for entry, (pe, simd) in zip(report["layers"], folding, strict=True):
        assert entry["cycles_per_image"] <= target
        assert entry["compute_cycles"] * 4 > target or (pe, simd) == (1, 1) \
            or entry["compute_cycles"] <= 2


def test_auto_stops_at_the_input_stream_limit():
    qnet = random_qnet(1)
    folding = auto_folding(qnet, in_lanes=1, target_cycles=1)
    report = _report(qnet, folding, 1)
    assert report["cycles_per_image"] == 64  # 64 pixels, one per beat


def test_auto_respects_lut_budget():
    qnet = random_qnet(1)
    small = auto_folding(qnet, in_lanes=8, lut_budget=1500)
    large = auto_folding(qnet, in_lanes=8, lut_budget=6000)
    assert _report(qnet, small, 8)["totals"]["lut"] <= 1500
    assert _report(qnet, large, 8)["totals"]["lut"] <= 6000
    assert _report(qnet, large, 8)["cycles_per_image"] < _report(qnet, small, 8)[
        "cycles_per_image"]


def test_a_budget_that_counts_flip_flops_folds_further():
    qnet = random_qnet(1)
    luts_only = auto_folding(qnet, in_lanes=8, lut_budget=3000)
    cells = auto_folding(qnet, in_lanes=8, lut_budget=3000, count_ff=True)
    totals = _report(qnet, cells, 8)["totals"]
    assert totals["lut"] + totals["ff"] <= 3000
    assert _report(qnet, luts_only, 8)["totals"]["lut"] <= 3000
    assert sum(pe * simd for pe, simd in cells) < sum(pe * simd for pe, simd in luts_only)
    smallest = _report(qnet, [(1, 1)] * len(qnet.layers), 1)["totals"]
    with pytest.raises(HardwareGenerationError, match="LUTs and flip-flops"):
        auto_folding(qnet, lut_budget=smallest["lut"], count_ff=True)


def test_multiplier_baseline_auto_folding_is_sized_with_its_own_estimates():
    qnet = random_qnet(1)
    plan = plan_accelerator(qnet, folding="auto", in_lanes=8, lut_budget=3000,
                            datapath="multiply")
    assert list(plan.folding) == auto_folding(qnet, in_lanes=8, lut_budget=3000,
                                              datapath="multiply")
    assert plan.report()["totals"]["lut"] <= 3000


def test_accelerator_auto():
    acc = Accelerator(random_qnet(1), folding="auto", in_lanes=8, target_cycles=32)
    acc._MustUse__silence = True
    assert acc.cycles_per_image <= 32
    assert all(isinstance(pe, int) and isinstance(simd, int) for pe, simd in acc.folding)


@pytest.mark.parametrize("kwargs", [{"target_cycles": 0}, {"lut_budget": -1},
                                    {"target_cycles": 1.5}])
def test_bad_auto_goals(kwargs):
    with pytest.raises(HardwareGenerationError, match=list(kwargs)[0]):
        auto_folding(random_qnet(1), **kwargs)


def test_lut_budget_below_the_smallest_design_is_refused_with_the_minimum():
    qnet = random_qnet(1)
    smallest = _report(qnet, [(1, 1)] * len(qnet.layers), 1)["totals"]["lut"]
    assert auto_folding(qnet, lut_budget=smallest) == [(1, 1)] * len(qnet.layers)
    with pytest.raises(HardwareGenerationError,
                       match=rf"--lut-budget {smallest - 1}: .*at least {smallest}$"):
        auto_folding(qnet, lut_budget=smallest - 1)
    with pytest.raises(HardwareGenerationError, match=f"at least {smallest}"):
        Accelerator(qnet, folding="auto", lut_budget=10)
    # Without a budget of the caller's the smallest design is still the answer.
    assert auto_folding(qnet, target_cycles=10**9) == [(1, 1)] * len(qnet.layers)


# -- convolutional QNets ---------------------------------------------------------------------

def _cnn():
    from qnet_conv_nets import digits_cnn

    return digits_cnn(seed=3, stride=1, padding="same", pool=True)


def test_auto_folds_a_cnn_to_the_window_limit_with_convolution_pe_dividing_its_channels():
    qnet = _cnn()  # conv (4 ch, 9 in), pool, conv (6 ch, 36 in), flatten, dense (10 of 96)
    plan = plan_accelerator(qnet, "auto", target_cycles=1)
    folding = plan.folding
    assert len(folding) == 5
    for k in (0, 2):
        assert qnet.layers[k].out_shape[2] % folding[k][0] == 0
    # The first window reads one pixel a cycle, 9 per output pixel: 64 x 9 cycles, plus
    # one cycle per output row, is the floor no folding goes below.
    assert plan.cycles_per_image == 64 * 9 + 8
    assert plan.estimate["bottleneck"] == 0
    # ... and is reached with the other stages no slower.
    stages = [entry["cycles_per_image"] for entry in plan.estimate["layers"]]
    assert max(stages[1:]) <= stages[0]


def test_auto_cnn_goals_follow_the_estimate():
    qnet = _cnn()
    smallest = plan_accelerator(qnet, None)
    # conv2 at PE = SIMD = 1: 16 windows x 6 channels x 36 inputs
    assert smallest.cycles_per_image == 16 * 6 * 36
    target = plan_accelerator(qnet, "auto", target_cycles=1000)
    assert target.cycles_per_image <= 1000
    budget = smallest.estimate["totals"]["lut"] + 200
    small = plan_accelerator(qnet, "auto", lut_budget=budget)
    assert small.estimate["totals"]["lut"] <= budget
    assert small.cycles_per_image < smallest.cycles_per_image
    # The estimate counts the max-pool units too.
    pools = sum(entry["lut"] for entry in small.estimate["pools"])
    layers = sum(entry["lut"] for entry in small.estimate["layers"])
    assert pools > 0 and small.estimate["totals"]["lut"] >= layers + pools


def test_accelerator_auto_folds_a_cnn_bit_exact():
    import numpy as np

    from hdl.simulate import simulate_accelerator

    qnet = _cnn()
    accelerator = Accelerator(qnet, "auto", target_cycles=1000)
    images = np.random.default_rng(0).integers(0, 32, (3, 64))
    logits, classes = qnet.forward(images)
    result = simulate_accelerator(accelerator, images)
    np.testing.assert_array_equal(result.logits, logits)
