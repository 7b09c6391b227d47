"""The generated accelerator on Verilator and Icarus vs QNet.forward, on real digits."""

import numpy as np
import pytest
from sim_nets import digits_images, digits_qnet, off_by_one_bias

from sim.accel_check import Scenario, check_accelerator, default_scenarios

pytestmark = pytest.mark.slow

SIMULATORS = ["icarus", "verilator"]
N_IMAGES = 6


def _check(check):
    if check.status == "skipped":
        pytest.skip(check.reason)
    return check


@pytest.fixture(scope="module", params=SIMULATORS)
def small_run(request):
    qnet = digits_qnet(hidden=(12,), seed=0)
    images, indices = digits_images(N_IMAGES)
    check = check_accelerator(qnet, images, request.param, indices=indices,
                              icarus_netlist="raw")
    return qnet, _check(check)


def test_every_scenario_matches_the_qnet_exactly(small_run):
    _, check = small_run
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert set(check.scenarios) == {"bulk_full_rate", "bulk_random_gaps",
                                    "driven_random_gaps", "reset_mid_image"}
    for name, result in check.scenarios.items():
        assert result["mismatches"] == 0, (name, result["first_mismatch"])
        assert result["received"] == result["images"] > 0
    assert check.scenarios["bulk_full_rate"]["images"] == N_IMAGES
    # The reset scenario checks the images sent after the reset.
    assert check.scenarios["reset_mid_image"]["images"] == 4 - 2


def test_full_rate_runs_back_to_back_at_the_estimated_interval(small_run):
    qnet, check = small_run
    full = check.scenarios["bulk_full_rate"]
    # PE = SIMD = 1: one cycle per weight of the slowest layer.
    assert check.cycles_per_image_estimate == 64 * 12
    assert full["cycles_per_image"] == check.cycles_per_image_estimate
    assert full["finished"] and full["latency_cycles"] > 0
    gaps = check.scenarios["bulk_random_gaps"]
    assert gaps["finished"] and gaps["simulated_cycles"] >= full["simulated_cycles"]


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_pow2_tlin_lanes_and_uneven_folding(simulator):
    qnet = digits_qnet(hidden=(10, 6), activation="tlin", pow2=True, seed=5)
    images, indices = digits_images(5, start=100)
    check = _check(check_accelerator(qnet, images, simulator, indices=indices,
                                     folding=[(2, 4), (5, 2), (3, 3)], in_lanes=3,
                                     icarus_netlist="raw"))
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert check.mismatches == 0
    assert check.scenarios["bulk_full_rate"]["cycles_per_image"] == \
        check.cycles_per_image_estimate


def test_single_mvu_layer_network():
    # One MVU (a linear output layer) straight into the argmax collector.
    qnet = digits_qnet(hidden=(), seed=7)
    assert len(qnet.layers) == 1
    images, indices = digits_images(6, start=200)
    check = _check(check_accelerator(qnet, images, "icarus", indices=indices,
                                     folding=[(4, 16)], in_lanes=16, icarus_netlist="raw"))
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert check.mismatches == 0
    # ceil(10 / PE) * (64 / SIMD), the input arriving 16 pixels (80 bits) a beat.
    assert check.cycles_per_image_estimate == 3 * 4
    assert check.scenarios["bulk_full_rate"]["cycles_per_image"] == 12


def test_flattened_netlist_on_icarus_matches_too():
    qnet = digits_qnet(hidden=(8,), activation="trec", weight_mode="binary", seed=2)
    images, indices = digits_images(4, start=50)
    check = _check(check_accelerator(
        qnet, images, "icarus", indices=indices, folding="auto", icarus_netlist="flat",
        scenarios=[Scenario("bulk_random_gaps", 0, 4, 128, 128, 9)]))
    assert check.status == "passed", check.reason
    assert check.scenarios["bulk_random_gaps"]["mismatches"] == 0
    assert check.run.build_dir.parent.name.startswith("accel-64-8-10-auto-l1-flat")


def test_off_by_one_bias_in_the_design_is_caught():
    qnet = digits_qnet(hidden=(12,), seed=0)
    last = qnet.layers[-1]
    neuron = int(np.flatnonzero(last.shift <= 0)[0])
    broken = off_by_one_bias(qnet, layer=-1, neuron=neuron)
    images, indices = digits_images(N_IMAGES)
    check = _check(check_accelerator(
        qnet, images, "icarus", indices=indices, hardware_qnet=broken, icarus_netlist="raw",
        scenarios=default_scenarios(N_IMAGES)[:1]))
    assert check.status == "failed"
    assert check.run.failed_tests == ["bulk_full_rate"]
    result = check.scenarios["bulk_full_rate"]
    assert result["mismatches"] == N_IMAGES
    first = result["first_mismatch"]
    assert first["image"] == 0 and first["layer"] == 1 and first["neuron"] == neuron
    assert first["got"] - first["expected"] == 1 << max(0, -int(last.shift[neuron]))


def test_images_in_flight_on_verilator():
    # Three images in flight: whole groups at full rate and under gaps, a reset while a
    # group gathers, and the last driven image alone (its partial group closes by itself).
    qnet = digits_qnet(hidden=(12,), seed=3)
    images, indices = digits_images(N_IMAGES, start=40)
    check = _check(check_accelerator(qnet, images, "verilator", indices=indices,
                                     folding=[(2, 4), (3, 2)], in_lanes=2,
                                     accelerator_options={"images": 3}))
    assert check.status == "passed", check.reason + check.run.log_tail()
    for name, result in check.scenarios.items():
        assert result["mismatches"] == 0, (name, result["first_mismatch"])
        assert result["received"] == result["images"] > 0
