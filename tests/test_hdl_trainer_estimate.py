"""Trainer resource estimates: memories, block RAMs, LUTs against synthesis, budget folding."""

import re

import numpy as np
import pytest
from qtrain_states import random_state

from hdl.errors import HardwareGenerationError
from hdl.trainer.estimate import (
    BLOCK_RAM_MIN_DEPTH,
    auto_trainer_folding,
    estimate_trainer,
    trainer_memories,
)
from hdl.trainer.export import TRAINER_TOP, trainer_rtlil, trainer_verilog
from hdl.trainer.plan import plan_trainer
from hdl.yosys_check import lut_count, synth_stats

#: Largest relative error of the LUT estimate against ``synth_ice40`` (no DSP), and
#: of its block RAMs (at least two blocks: Yosys may pack two narrow memories).
LUT_TOLERANCE = 0.15
BRAM_TOLERANCE = 0.1


def _state(sizes):
    return random_state(np.random.default_rng(9), sizes=sizes)


def test_memories_are_every_per_sample_vector_and_the_shadows():
    plan = plan_trainer(_state((16, 8, 4)), [(2, 4), (2, 2)])
    memories = {name: (width, depth) for name, width, depth in trainer_memories(plan)}
    lp0, lp1 = plan.layers
    assert memories["shadow0"] == (2 * 4 * lp0.shadow_bits, 16)
    assert memories["shadow1"] == (2 * 2 * lp1.shadow_bits, 8)
    assert memories["acts0"] == (4 * lp0.bits["input"], 4)
    assert memories["deltas1"] == (2 * plan.delta_bits, 2)
    # The backward sums exist from the second layer on, the masks up to the last but one.
    assert "grads0" not in memories and "grads1" in memories
    assert "masks0" in memories and "masks1" not in memories


def test_every_listed_memory_is_in_the_design_with_its_shape():
    # The per-sample vectors (inputs, random words, sums, errors, masks) are
    # memories, not a register per element.
    plan = plan_trainer(_state((16, 8, 4)), [(2, 4), (2, 2)])
    design = {name: (int(width), int(depth)) for width, depth, name in
              re.findall(r"memory width (\d+) size (\d+) \\(\w+)", trainer_rtlil(plan))}
    for name, width, depth in trainer_memories(plan):
        assert design.get(name) == (width, depth), name


def test_block_rams_count_deep_memories_only_in_whole_blocks():
    plan = plan_trainer(_state((16, 8, 4)), [(2, 4), (2, 2)])
    # 64-bit x 16 and 32-bit x 8 shadows: four and two 16-bit wide iCE40 blocks
    # (what synth_ice40 gives); every vector here is shallower than a block's minimum.
    assert plan.layers[0].shadow_bits == 8
    assert estimate_trainer(plan)["block_rams"]["ice40"] == 6
    assert all(depth < BLOCK_RAM_MIN_DEPTH for name, _, depth in trainer_memories(plan)
               if not name.startswith("shadow"))


def test_estimate_grows_with_the_lanes_and_keeps_the_plans_cycles():
    state = _state((64, 16, 10))
    narrow = estimate_trainer(plan_trainer(state, [(2, 4), (1, 2)]))
    wide = estimate_trainer(plan_trainer(state, [(4, 8), (2, 4)]))
    assert narrow["lut"] < wide["lut"]
    assert wide["cycles_per_sample"] == plan_trainer(state, [(4, 8), (2, 4)]).cycles_per_sample
    assert wide["cycles_per_sample"] < narrow["cycles_per_sample"]


def test_auto_folding_fits_the_budget_and_a_larger_budget_is_faster():
    state = _state((64, 16, 10))
    results = []
    for budget in (4000, 8000, 16000):
        folding = auto_trainer_folding(state, "ice40", lut_budget=budget, bram_budget=60)
        report = estimate_trainer(plan_trainer(state, folding))
        assert report["lut"] <= budget and report["block_rams"]["ice40"] <= 60
        results.append(report["cycles_per_sample"])
    assert results[0] > results[1] > results[2]


def test_auto_folding_on_the_up5k_by_default_stays_within_its_parts():
    folding = auto_trainer_folding(_state((64, 16, 10)), "ice40")
    report = estimate_trainer(plan_trainer(_state((64, 16, 10)), folding))
    assert report["lut"] <= 5280 and report["block_rams"]["ice40"] <= 30
    assert folding != [(1, 1), (1, 1)]


@pytest.mark.parametrize("kwargs,message", [
    ({"family": "gowin"}, "family: expected one of"),
    ({"lut_budget": 0}, "lut budget: expected a positive integer, got 0"),
    ({"bram_budget": True}, "block_rams budget: expected a positive integer"),
    ({"lut_budget": 100}, "narrowest trainer .* needs about \\d+ LUTs"),
])
def test_bad_or_too_small_budget_is_one_clear_error(kwargs, message):
    with pytest.raises(HardwareGenerationError, match=message):
        auto_trainer_folding(_state((16, 8, 4)), **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("sizes,folding", [((16, 8, 4), [(2, 4), (2, 2)]),
                                           ((64, 16, 10), [(4, 8), (2, 4)]),
                                           ((64, 16, 10), [(2, 4), (1, 2)])])
def test_estimate_is_within_its_bound_of_synthesis(sizes, folding):
    plan = plan_trainer(_state(sizes), folding)
    counts = synth_stats(trainer_verilog(plan), "ice40-nodsp", top=TRAINER_TOP)
    report = estimate_trainer(plan)
    luts = lut_count(counts, "ice40")
    assert abs(report["lut"] - luts) <= LUT_TOLERANCE * luts, (report["lut"], luts)
    blocks = counts.get("SB_RAM40_4K", 0)
    assert abs(report["block_rams"]["ice40"] - blocks) <= max(2, BRAM_TOLERANCE * blocks)
