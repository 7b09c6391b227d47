"""Loadable weights in RTL simulation: the SB_SPRAM256KA model and plain RAM, vs QNet.forward."""

import pytest
from sim_nets import digits_images, digits_qnet

from sim.accel_check import check_accelerator

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
