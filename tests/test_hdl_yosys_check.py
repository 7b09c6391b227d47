"""Multiplier-free proof: the generated design has no multiplier; the baseline has them."""

import pytest
from hdl_nets import random_qnet

from hdl.export import generate_rtlil, generate_verilog
from hdl.yosys_check import multiplier_cells, synth_stats

FOLDING = [(2, 4), (2, 3)]


@pytest.fixture(scope="module")
def designs():
    qnet = random_qnet(3, sizes=(12, 4, 3), bits=4, pow2=[True], e_max=[3])
    return {(datapath, language): generate(qnet, folding=FOLDING, datapath=datapath)
            for datapath in ("signselect", "multiply")
            for language, generate in (("verilog", generate_verilog), ("rtlil", generate_rtlil))}


def _design(designs, datapath, flow):
    # The generic check reads the RTLIL; mapping starts from the Verilog that boards use.
    return designs[datapath, "rtlil" if flow == "generic" else "verilog"]


@pytest.mark.parametrize("flow", ["generic", "ice40", "ecp5"])
def test_signselect_design_has_no_multiplier(designs, flow):
    counts = synth_stats(_design(designs, "signselect", flow), flow)
    assert sum(counts.values()) > 0
    assert multiplier_cells(counts, flow) == {}


@pytest.mark.parametrize("flow,cell", [("generic", "$mul"), ("ice40", "SB_MAC16"),
                                       ("ecp5", "MULT18X18D")])
def test_baseline_shows_multipliers_so_the_check_can_fail(designs, flow, cell):
    counts = synth_stats(_design(designs, "multiply", flow), flow)
    lanes = sum(pe * simd for pe, simd in FOLDING)
    assert multiplier_cells(counts, flow).get(cell, 0) == lanes


def test_last_layer_with_a_lane_count_not_a_power_of_two_has_no_multiplier():
    """The argmax numbers classes beat by beat: 3 lanes, 10 classes in 4 beats."""
    qnet = random_qnet(5, sizes=(12, 6, 10), bits=4)
    design = generate_rtlil(qnet, folding=[(2, 4), (3, 2)])
    counts = synth_stats(design, "generic")
    assert sum(counts.values()) > 0
    assert multiplier_cells(counts, "generic") == {}
