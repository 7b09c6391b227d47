"""The trainer synthesizes for the iCE40 with no multiplier cell and its shadows in block RAM."""

import numpy as np
import pytest
from qtrain_states import random_state

from hdl.trainer.export import TRAINER_TOP, trainer_verilog
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
