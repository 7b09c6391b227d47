"""Loadable weights in RTL simulation: the SB_SPRAM256KA model and plain RAM, vs QNet.forward."""

import pytest
from sim_nets import digits_images, digits_qnet

from hdl.accelerator import Accelerator
from sim.accel_check import Scenario, check_accelerator

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("simulator,store,netlist", [
    ("verilator", ["spram", "rom"], "raw"),
    ("icarus", ["spram", "ram"], "flat"),     # the flattened netlist keeps the SPRAM cells
    ("icarus", "ram", "raw"),
])
def test_loaded_weights_match_the_qnet_in_every_scenario(simulator, store, netlist):
    qnet = digits_qnet(hidden=(12,), seed=3)
    images, indices = digits_images(5, start=40)
    # Layer 0 at PE=3, SIMD=8: 48-bit words in three SPRAM slices; the reset scenario
    # checks that a reset keeps the loaded weights.
    check = check_accelerator(qnet, images, simulator, indices=indices,
                              folding=[(3, 8), (5, 4)], icarus_netlist=netlist,
                              accelerator_options={"weight_store": store})
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert set(check.scenarios) == {"bulk_full_rate", "bulk_random_gaps",
                                    "driven_random_gaps", "reset_mid_image"}
    for name, result in check.scenarios.items():
        assert result["mismatches"] == 0, (name, result["first_mismatch"])
        assert result["received"] == result["images"] > 0
    full = check.scenarios["bulk_full_rate"]
    assert full["cycles_per_image"] == check.cycles_per_image_estimate


def test_a_wrong_load_is_caught():
    """The testbench compares with the reference QNet, not with what was loaded."""
    qnet = digits_qnet(hidden=(12,), seed=3)
    other = digits_qnet(hidden=(12,), seed=4)
    images, indices = digits_images(5, start=40)
    check = check_accelerator(qnet, images, "verilator", indices=indices,
                              folding=[(3, 8), (5, 4)], hardware_qnet=other,
                              accelerator_options={"weight_store": ["spram", "rom"]})
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "failed"
    assert check.mismatches > 0


def test_a_layer_deeper_than_one_spram_uses_two_banks_bit_exact():
    """64 x 260 weights at PE = SIMD = 1: 16,640 words, past one SB_SPRAM256KA's 16,384."""
    qnet = digits_qnet(hidden=(260,), seed=5)
    images, indices = digits_images(2, start=7)
    options = {"weight_store": ["spram", "rom"]}
    check = check_accelerator(qnet, images, "verilator", indices=indices,
                              folding=[(1, 1), (10, 4)], accelerator_options=options,
                              scenarios=[Scenario("bulk_full_rate", 0, 2)])
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "passed", check.reason + check.run.log_tail()
    assert check.scenarios["bulk_full_rate"]["mismatches"] == 0
    assert check.scenarios["bulk_full_rate"]["received"] == 2
    plan = Accelerator(qnet, folding=[(1, 1), (10, 4)], **options).plans[0]
    assert plan.weight_depth == 64 * 260 and plan.spram_banks == 2


def test_a_cnn_with_spram_convolutions_is_bit_exact_in_every_scenario():
    """Both convolutions and the last dense layer read loaded SB_SPRAM256KA weights (Yosys's
    model) on Verilator; a reset mid-image keeps them."""
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=6, stride=1, padding="same", pool=True)
    images, indices = digits_images(4, start=20)
    check = check_accelerator(qnet, images, "verilator", indices=indices,
                              folding=[(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)],
                              accelerator_options={"weight_store": "spram"})
    if check.status == "skipped":
        pytest.skip(check.reason)
    assert check.status == "passed", check.reason + check.run.log_tail()
    for name, result in check.scenarios.items():
        assert result["mismatches"] == 0, (name, result["first_mismatch"])
        assert result["received"] == result["images"] > 0
    assert check.scenarios["bulk_full_rate"]["cycles_per_image"] == \
        check.cycles_per_image_estimate
