"""Resource estimates of a trainer plan and a folding chosen from a budget (pure data).

:func:`trainer_memories` lists every memory the :class:`~hdl.trainer.trainer.Trainer`
of a plan builds (shape and depth); :func:`estimate_trainer` turns them and the
lanes into LUT4, flip-flop, logic-cell and block-RAM counts per family
(``ice40``, ``ecp5``); :func:`estimate_board_top` adds the training board's
serial engine (:class:`boards.train_top.TrainTop`);
:func:`auto_trainer_folding` picks per layer ``(PE, SIMD)`` that fits a LUT
(on the iCE40: logic-cell) and block-RAM budget with the fewest cycles per
sample.

The LUT model is linear in the datapath widths, calibrated against
``synth_ice40`` (``tests/test_hdl_trainer_estimate.py`` checks it against
synthesis within a stated bound). Memories of fewer than
:data:`BLOCK_RAM_MIN_DEPTH` words or at most :data:`LOGIC_MEMORY_MAX_BITS`
bits are built from flip-flops (Yosys maps them to logic), the others take
whole blocks in their cheapest shape (:data:`hdl.estimate.BLOCK_RAM_SHAPES`).

An iCE40 logic cell is a LUT4 and a flip-flop; nextpnr packs a flip-flop
with the LUT that drives it only, which the trainer's registers (loaded
through multiplexers, counters, pipeline stages fed by carry chains) seldom
allow: :func:`logic_cells` counts one cell per LUT plus one per flip-flop,
an upper bound that the ``icebreaker`` training designs of digits 64-64-10
reach within 1-8 % (``nextpnr-ice40 --pack-only``: 3763 cells for 2793 LUTs
and 1281 flip-flops at ``(1, 1), (1, 1)``, 4944 for 3732 and 1403 at
``(2, 4), (1, 1)``, 7558 for 5656 and 1952 at ``(2, 8), (5, 1)``).
"""

from hdl.errors import HardwareGenerationError
from hdl.estimate import BLOCK_RAM_SHAPES

from .plan import plan_trainer

__all__ = ["trainer_memories", "estimate_trainer", "estimate_board_top", "logic_cells",
           "auto_trainer_folding", "FAMILY_RESOURCES", "BLOCK_RAM_MIN_DEPTH",
           "LOGIC_MEMORY_MAX_BITS"]

#: LUT4s (on the iCE40 logic cells: a LUT4 and a flip-flop each), block RAMs of
#: the parts the issue names (iCE40 UP5K, ECP5-85F).
FAMILY_RESOURCES = {"ice40": {"lut": 5280, "block_rams": 30},
                    "ecp5": {"lut": 83640, "block_rams": 208}}

#: The trainer's memories (synchronous read) of this depth or more go to block RAM
#: (``synth_ice40``: an 8-word shadow memory takes blocks, 4-word vectors do not).
BLOCK_RAM_MIN_DEPTH = 8

#: ... unless they hold at most this many bits (``memory_libmap`` weighs a block at
#: 64 against a bit of logic; measured: 64- and 70-bit memories in flip-flops, an
#: 80-bit one in a block).
LOGIC_MEMORY_MAX_BITS = 72

#: Per lane beyond the arithmetic counted: operand multiplexers, write-back
#: packing. This, the fixed logic and the logic memories' LUTs per ten bits are
#: fitted (least squares) to ``synth_ice40`` of 16-8-4 at (2, 4), (2, 2),
#: 64-16-10 at (4, 8), (2, 4) and (2, 4), (1, 2), 32-16-4 at (8, 8), (4, 4).
_LANE_GLUE_LUT = 44
_LOGIC_MEMORY_LUT_PER_TEN_BITS = 7

#: Fixed logic: the state port multiplexer, counters, FSM, the two mix rounds
#: (seven 32-bit steps each), the step counter, the output stream.
_BASE_LUT = 1324
_BASE_FF = 660

#: The board top (:func:`estimate_board_top`): fixed, and per bit of the state
#: word (fitted to ``synth_ice40`` of the ``icebreaker`` training design minus
#: the trainer alone).
_TOP_LUT = 775
_TOP_LUT_PER_TEN_WORD_BITS = 28
_TOP_FF = 378


def _exponent_bits(lp):
    return max(1, lp.input_exponent_max.bit_length())


def trainer_memories(plan):
    """``(name, width, depth)`` of every memory of the trainer, layer by layer.

    Unused ones are left out (no backward sums in the first layer, no masks
    in the last), and so are shadows in SPRAM (``TrainerLayerPlan.spram``).
    """
    memories = []
    for k, lp in enumerate(plan.layers):
        random_width = len(plan.random_bit_positions(lp))
        rows, cols = lp.row_groups, lp.column_groups
        if not lp.spram:
            memories.append((f"shadow{k}", lp.shadow_word_bits, lp.depth))
        memories += [
            (f"bias{k}", lp.bias_word_bits, rows),
            (f"rows{k}", random_width * lp.pe, rows),
            (f"cols{k}", random_width * lp.simd, cols),
            (f"acts{k}", lp.bits["input"] * lp.simd, cols),
            (f"rounded{k}", (2 + _exponent_bits(lp)) * lp.simd, cols),
            (f"sums{k}", lp.bits["sum"] * lp.pe, rows),
            (f"deltas{k}", plan.delta_bits * lp.pe, rows)]
        if not lp.last:
            memories.append((f"masks{k}", lp.pe, rows))
        if k:
            memories.append((f"grads{k}", lp.bits["backward"] * lp.simd, cols))
    return memories


def _lane_lut(plan, lp):
    """LUT4s of one PE x SIMD lane: weight sample, forward and backward
    sign-select adds, and the update (select of the row's saturated quotient
    by the exponent, rounding carry, add or subtract, clip; fitted to
    ``synth_ice40`` of a 2 x 4 tile of update lanes)."""
    stochastic = plan.sampling == "stochastic"
    ternary = plan.weight_mode == "ternary"
    sample = lp.shadow_bits * ((2 if ternary else 1) if stochastic else 1)
    forward = lp.bits["input"] + 2
    backward = plan.delta_bits + 2 if lp.index else 0
    quotient = lp.shadow_bits * (lp.input_exponent_max + 1)
    update = 5 * quotient // 6 + 29 * lp.shadow_bits // 5 + 8 * lp.eta - 10
    return sample + forward + backward + update + _LANE_GLUE_LUT


def _in_logic(width, depth):
    return depth < BLOCK_RAM_MIN_DEPTH or width * depth <= LOGIC_MEMORY_MAX_BITS


def _memory_logic(width, depth):
    """LUT4s and FFs of a memory Yosys builds from flip-flops (the words; the read
    multiplexers mostly merge into the logic that uses them)."""
    if not _in_logic(width, depth):
        return 0, 0
    # The words, and the synchronous read port's data register.
    return width * depth * _LOGIC_MEMORY_LUT_PER_TEN_BITS // 10, width * depth + width


def _block_rams(width, depth):
    """Blocks per family: whole blocks in the one shape that needs the fewest."""
    if _in_logic(width, depth):
        return {family: 0 for family in BLOCK_RAM_SHAPES}
    return {family: min(-(-width // w) * -(-depth // d) for w, d in shapes)
            for family, shapes in BLOCK_RAM_SHAPES.items()}


def logic_cells(lut, ff):
    """iCE40 logic cells of ``lut`` LUT4s and ``ff`` flip-flops: one each (few share a
    cell; an upper bound)."""
    return int(lut + ff)


def estimate_trainer(plan):
    """LUT4, flip-flop, logic-cell and block-RAM estimate of a plan's trainer.

    Returns
    -------
    dict
        ``lut``, ``ff``, ``logic_cells`` (iCE40), ``block_rams`` (family ->
        blocks), ``spram`` (iCE40 SPRAM cells), ``memory_bits`` (block RAM or
        logic) and ``cycles_per_sample``.
    """
    lut, ff = _BASE_LUT, _BASE_FF
    blocks = {family: 0 for family in BLOCK_RAM_SHAPES}
    bits = 0
    for _, width, depth in trainer_memories(plan):
        mem_lut, mem_ff = _memory_logic(width, depth)
        lut, ff = lut + mem_lut, ff + mem_ff
        for family, count in _block_rams(width, depth).items():
            blocks[family] += count
        bits += width * depth
    for lp in plan.layers:
        lut += lp.pe * lp.simd * _lane_lut(plan, lp)
        # Per row: the sum accumulator and the bias update; per column: the
        # backward sum; per unit: the serial requantizer or error, the rounding.
        lut += lp.pe * (2 * lp.bits["sum"] + 3 * lp.bias_bits)
        lut += lp.simd * (2 * lp.bits["backward"] if lp.index else 0)
        lut += 4 * lp.bits["z"] + 3 * lp.bits["input"] + 2 * plan.delta_bits
        if len(set(lp.shift)) > 1 or len(set(lp.threshold)) > 1:
            lut += lp.n_out * lp.bits["z"]    # a shift and threshold per unit: a multiplexer
        # The row sums' accumulators; u_{n_out}, u_{n_out + 1} and v_{n_in} (only
        # the bits the lanes read).
        ff += lp.pe * lp.bits["sum"] + 3 * len(plan.random_bit_positions(lp))
    return {"lut": int(lut), "ff": int(ff), "logic_cells": logic_cells(lut, ff),
            "block_rams": blocks, "spram": sum(lp.spram_blocks for lp in plan.layers),
            "memory_bits": bits, "cycles_per_sample": plan.cycles_per_sample}


def estimate_board_top(plan):
    """The training board's serial engine around the trainer
    (:class:`boards.train_top.TrainTop`: UART, request parser, the state word
    and answer shift registers, the image memory, the clock's PLL glue).

    Its size grows with the state word (the widest shadow or bias word, at
    least 32 bits): the request's word and the answer's shift register hold
    one, the state port's read data is selected from the memories' words.

    Returns
    -------
    dict
        ``lut``, ``ff``, ``logic_cells`` and ``block_rams`` (family -> blocks).
    """
    word_bits = 8 * max(4, -(-max(max(lp.shadow_word_bits, lp.bias_word_bits)
                                  for lp in plan.layers) // 8))
    lut = _TOP_LUT + _TOP_LUT_PER_TEN_WORD_BITS * word_bits // 10
    # The request's word and the answer's shift register (at least the 6-byte result).
    ff = _TOP_FF + word_bits + max(word_bits, 8 * 6)
    return {"lut": int(lut), "ff": int(ff), "logic_cells": logic_cells(lut, ff),
            "block_rams": _block_rams(plan.input_bits, plan.n_inputs)}


def _with_board_top(report, plan):
    top = estimate_board_top(plan)
    out = dict(report)
    for key in ("lut", "ff", "logic_cells"):
        out[key] = report[key] + top[key]
    out["block_rams"] = {family: count + top["block_rams"][family]
                         for family, count in report["block_rams"].items()}
    return out


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _next_divisor(value, n):
    larger = [d for d in _divisors(n) if d > value]
    return larger[0] if larger else None


def auto_trainer_folding(state, family="ice40", lut_budget=None, bram_budget=None,
                         board_top=True):
    """The folding with the fewest cycles per sample whose estimate fits the budget.

    Starts from ``(1, 1)`` in every layer and, while the estimate fits, widens
    the layer with the most tiles: its SIMD to the next divisor of its
    inputs, or else its PE to the next divisor of its outputs; a layer that
    can grow neither way within the budget stays.

    Parameters
    ----------
    state : golden_model.qtrain.QTrainState
    family : {"ice40", "ecp5"}
    lut_budget, bram_budget : int, optional
        Default: the part's LUTs and block RAMs (:data:`FAMILY_RESOURCES`).
        On the iCE40 the LUT budget is one of logic cells: a LUT or a
        flip-flop takes one (:func:`logic_cells`).
    board_top : bool
        Count the training board's serial engine (:func:`estimate_board_top`)
        with the trainer (default: the folding is for a training bitstream).

    Raises
    ------
    HardwareGenerationError
        An unknown family, a budget that is not a positive integer, or one
        that even the narrowest folding does not fit (naming its estimate).
    """
    if family not in FAMILY_RESOURCES:
        raise HardwareGenerationError(f"family: expected one of {sorted(FAMILY_RESOURCES)}, "
                                      f"got {family!r}")
    budget = {"lut": lut_budget, "block_rams": bram_budget}
    for name, value in budget.items():
        if value is None:
            budget[name] = FAMILY_RESOURCES[family][name]
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HardwareGenerationError(f"{name} budget: expected a positive integer, "
                                          f"got {value!r}")

    # On the iCE40 a flip-flop takes a logic cell as a LUT does.
    key, unit = ("logic_cells", "logic cells") if family == "ice40" else ("lut", "LUTs")

    def estimate(folding):
        plan = plan_trainer(state, folding)
        report = estimate_trainer(plan)
        return _with_board_top(report, plan) if board_top else report

    def fits(report):
        return report[key] <= budget["lut"] \
            and report["block_rams"][family] <= budget["block_rams"]

    folding = [[1, 1] for _ in state.layers]
    report = estimate(folding)
    if not fits(report):
        raise HardwareGenerationError(
            f"budget of {budget['lut']} {unit} and {budget['block_rams']} block RAMs "
            f"({family}): the narrowest trainer (PE = SIMD = 1)"
            f"{' with its board top' if board_top else ''} needs about {report[key]} "
            f"{unit} and {report['block_rams'][family]} block RAMs (estimate)")
    frozen = set()
    while len(frozen) < len(folding):
        plan = plan_trainer(state, folding)
        k = max((k for k in range(len(folding)) if k not in frozen),
                key=lambda k: plan.layers[k].depth)
        pe, simd = folding[k]
        layer = state.layers[k]
        candidates = []
        for position, value, size in ((1, simd, layer.n_in), (0, pe, layer.n_out)):
            step = _next_divisor(value, size)
            if step is not None:
                candidate = [list(pair) for pair in folding]
                candidate[k][position] = step
                candidates.append(candidate)
        for candidate in candidates:
            new_report = estimate(candidate)
            if fits(new_report):
                folding, report = candidate, new_report
                break
        else:
            frozen.add(k)
    return [tuple(pair) for pair in folding]
