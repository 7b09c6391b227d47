"""Trainer resource estimates: memories, block RAMs, LUTs against synthesis, budget folding."""

import re

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.qtrain import QTrainConfig, init_state
from hdl.errors import HardwareGenerationError
from hdl.trainer.estimate import (
    BLOCK_RAM_MIN_DEPTH,
    FAMILY_RESOURCES,
    _with_board_top,
    auto_trainer_folding,
    estimate_board_top,
    estimate_trainer,
    logic_cells,
    trainer_memories,
)
from hdl.trainer.export import TRAINER_TOP, trainer_rtlil, trainer_verilog
from hdl.trainer.plan import plan_trainer
from hdl.yosys_check import lut_count, synth_stats

#: Largest relative error of the LUT estimate against ``synth_ice40`` (no DSP), and
#: of its block RAMs (at least two blocks: Yosys may pack two narrow memories).
LUT_TOLERANCE = 0.15
BRAM_TOLERANCE = 0.1
#: Of the logic-cell estimate of a training board (trainer and serial engine)
#: against ``synth_ice40``'s LUTs and flip-flops.
CELL_TOLERANCE = 0.1


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
    for budget in (5000, 9000, 18000):
        folding = auto_trainer_folding(state, "ice40", lut_budget=budget, bram_budget=60,
                                       board_top=False)
        report = estimate_trainer(plan_trainer(state, folding))
        # On the iCE40 the budget is of logic cells: a LUT or a flip-flop each.
        assert report["logic_cells"] <= budget and report["block_rams"]["ice40"] <= 60
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
    ({"lut_budget": 100}, "narrowest trainer .* with its board top needs about \\d+ logic "
                          "cells"),
    ({"lut_budget": 100, "family": "ecp5"}, "narrowest trainer .* needs about \\d+ LUTs"),
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


def _digits_narrow():
    """Digits 64-64-10 with narrow shadows, biases and errors (``bench/train_on_chip.py``'s
    UP5K row): the ``mulfree learn`` widths need 32 block RAMs at PE = SIMD = 1."""
    config = QTrainConfig(weight_mode="ternary", sampling="stochastic",
                          input_rounding="stochastic", w0_log2=3, bias_log2=5, target=8,
                          delta_bits=8, eta=(2, 4), eta_bias=(4, 4), backward_shift=(0, 4),
                          decay_epochs=0, seed=0)
    return init_state([64, 64, 10], 4, config, shift=(1, 2), out_bits=4)


def test_logic_cells_count_a_lut_or_a_flip_flop_each_on_the_up5k():
    state = _digits_narrow()
    plan = plan_trainer(state, [(2, 8), (5, 1)])
    report = estimate_trainer(plan)
    assert report["logic_cells"] == logic_cells(report["lut"], report["ff"])
    assert report["logic_cells"] == report["lut"] + report["ff"]
    # The folding the LUT-only budget chose: about 7,300 logic cells with its board
    # top in the icebreaker build, which did not place on the UP5K's 5,280.
    top = estimate_board_top(plan)
    assert report["logic_cells"] + top["logic_cells"] > FAMILY_RESOURCES["ice40"]["lut"]
    assert report["lut"] < FAMILY_RESOURCES["ice40"]["lut"]


def test_auto_folding_for_digits_64_64_10_on_the_up5k_counts_logic_cells_and_the_top():
    state = _digits_narrow()
    folding = auto_trainer_folding(state, "ice40")
    assert folding != [(2, 8), (5, 1)]
    plan = plan_trainer(state, folding)
    report, top = estimate_trainer(plan), estimate_board_top(plan)
    assert report["logic_cells"] + top["logic_cells"] <= 5280
    assert report["block_rams"]["ice40"] + top["block_rams"]["ice40"] <= 30
    # Without the board top the trainer alone may take more.
    alone = auto_trainer_folding(state, "ice40", board_top=False)
    assert plan_trainer(state, alone).cycles_per_sample <= plan.cycles_per_sample


@pytest.mark.slow
def test_auto_folding_for_digits_64_64_10_fits_the_up5k_in_synthesis():
    from amaranth.back import verilog

    from boards.platform_top import REQUEST_TIMEOUT_S
    from boards.registry import get_board
    from boards.train_top import TrainTop
    from boards.uart import uart_divisor

    state = _digits_narrow()
    folding = auto_trainer_folding(state, "ice40")
    plan = plan_trainer(state, folding)
    board = get_board("icebreaker")
    # The serial engine and trainer of the icebreaker's training bitstream (no PLL, pins).
    hz = board.target_hz
    top = TrainTop(plan, divisor=uart_divisor(hz, board.baud), clock_hz=int(hz),
                   timeout_cycles=int(REQUEST_TIMEOUT_S * hz), n_leds=len(board.leds))
    counts = synth_stats(verilog.convert(top, name="mulfree_train", emit_src=False),
                         "ice40-nodsp", top="mulfree_train")
    luts = lut_count(counts, "ice40")
    ffs = sum(n for cell, n in counts.items() if cell.startswith("SB_DFF"))
    cells = luts + ffs           # an upper bound: nextpnr packs few pairs
    assert cells <= FAMILY_RESOURCES["ice40"]["lut"], (folding, luts, ffs)
    assert counts.get("SB_RAM40_4K", 0) <= FAMILY_RESOURCES["ice40"]["block_rams"]
    estimate = _with_board_top(estimate_trainer(plan), plan)
    assert abs(estimate["logic_cells"] - logic_cells(luts, ffs)) <= CELL_TOLERANCE * cells, \
        (estimate, luts, ffs)


def test_shadows_in_spram_take_no_block_ram():
    state = _state((16, 8, 4))
    plain = estimate_trainer(plan_trainer(state, [(1, 1), (1, 1)]))
    plan = plan_trainer(state, [(1, 1), (1, 1)], spram=(0,))
    report = estimate_trainer(plan)
    # The 8-bit x 128-word shadows of layer 0: one iCE40 block, now one SPRAM cell.
    assert "shadow0" not in {name for name, _, _ in trainer_memories(plan)}
    assert (plain["spram"], report["spram"]) == (0, 1)
    assert report["block_rams"]["ice40"] == plain["block_rams"]["ice40"] - 1
    assert report["cycles_per_sample"] == plain["cycles_per_sample"] + 128 - 1
