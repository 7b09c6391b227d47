"""The trainer synthesizes for the iCE40 with no multiplier cell and its shadows in block RAM."""

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed
from qtrain_states import random_state

from hdl.trainer.export import TRAINER_TOP, trainer_verilog
from hdl.trainer.lanes import update_shadow
from hdl.trainer.plan import plan_trainer
from hdl.yosys_check import lut_count, multiplier_cells, synth_stats

pytestmark = pytest.mark.slow


def test_ice40_mapping_has_no_mac_and_uses_block_ram():
    state = random_state(np.random.default_rng(9), sizes=(16, 8, 4))
    plan = plan_trainer(state, [(2, 4), (2, 2)])
    counts = synth_stats(trainer_verilog(plan), "ice40", top=TRAINER_TOP)
    assert multiplier_cells(counts, "ice40") == {}
    assert counts.get("SB_MAC16", 0) == 0
    # The first layer's 96-bit shadow words need six 16-bit wide blocks.
    assert counts.get("SB_RAM40_4K", 0) >= 6
    assert lut_count(counts, "ice40") > 0


def _update_tile_verilog(w0_log2, delta_bits, e_max, eta, pe=2, simd=4):
    """A PE x SIMD tile of shadow updates: an error per row, an input code per column."""
    plan = SimpleNamespace(w0_log2=w0_log2)
    lp = SimpleNamespace(eta=eta, input_exponent_max=e_max)
    m = Module()
    deltas = [Signal(signed(delta_bits), name=f"delta{p}") for p in range(pe)]
    codes = [(Signal(name=f"neg{s}"), Signal(name=f"nz{s}"),
              Signal(range(e_max + 1), name=f"exp{s}")) for s in range(simd)]
    ports = deltas + [bit for code in codes for bit in code]
    for p in range(pe):
        for s in range(simd):
            shadow = Signal(signed(w0_log2 + 2), name=f"shadow{p}_{s}")
            word = Signal(32, name=f"word{p}_{s}")
            new = Signal(signed(w0_log2 + 2), name=f"new{p}_{s}")
            m.d.comb += new.eq(update_shadow(m, plan, lp, shadow, deltas[p], *codes[s], word))
            ports += [shadow, word, new]
    return verilog.convert(m, ports=ports, name="update_tile", emit_src=False)


@pytest.mark.parametrize("w0_log2,delta_bits,e_max,eta,bound", [(10, 16, 8, 2, 180),
                                                                (3, 8, 4, 2, 65)])
def test_update_lanes_are_narrow(w0_log2, delta_bits, e_max, eta, bound):
    # The barrel shift of the error at its full width (then negate, round, clip)
    # took 218 and 92 LUTs per lane of these tiles.
    counts = synth_stats(_update_tile_verilog(w0_log2, delta_bits, e_max, eta), "ice40",
                         top="update_tile")
    assert lut_count(counts, "ice40") / 8 <= bound
