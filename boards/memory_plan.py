"""Where a board keeps each layer's weights, and the folding that goes with it.

Block RAM is the only memory a bitstream preloads. When a network's weights
do not fit it on a device with SPRAM (the iCE40 UP5K has four 16K x 16-bit
``SB_SPRAM256KA``), the largest layers move to SPRAM, one at a time, until
the rest fits; their weights are then loaded over the UART at run time
(:mod:`boards.protocol` ``LOAD``). An SPRAM is a single 16-bit port, so a
layer on ``s`` blocks reads at most ``16 s`` weight bits per cycle: the
blocks are shared out between the SPRAM layers to make the slowest of them
as fast as possible, each such layer gets the widest folding its blocks can
feed, and the other layers are folded (automatically) to keep up with it.
A wide SPRAM layer's decode tables take block RAM, so fewer blocks are tried
too, and with more layers moved: of every choice that fits, the fastest
(within the LUT budget when one does) wins. The layers with weights move,
dense or convolution; a max-pool or flatten has none.

Members
-------
MemoryPlan
    The chosen weight stores and folding, with the figures behind them.
plan_memory
    Choose them for a QNet and a board.
spram_folding
    The fastest folding of one layer on a number of SPRAM blocks.
"""

import itertools
from dataclasses import dataclass

from golden_model.qnet import QConv2D, QLayer
from hdl.accelerator_plan import plan_accelerator
from hdl.errors import HardwareGenerationError
from hdl.estimate import block_rams
from hdl.folding import auto_folding, resolve_folding
from hdl.layer_plan import SLICE_BITS, SPRAM_DEPTH, TRITS_PER_BYTE, stored_word_bits

__all__ = ["MemoryPlan", "plan_memory", "spram_folding", "bram_bits_needed",
           "block_ram_budget", "SPRAM_CYCLE_SLACK"]

#: Share of extra cycles an SPRAM layer may take for fewer PEs (less logic).
SPRAM_CYCLE_SLACK = 0.02


@dataclass(frozen=True)
class MemoryPlan:
    """Weight stores and folding for one board.

    Members
    -------
    weight_store : list of str
        One of ``rom``/``spram`` per layer.
    folding : None, "auto" or list of (pe, simd)
        What the accelerator is built with (the caller's, unless this plan
        chose it because SPRAM layers need their own).
    reason : str
        Why the stores are what they are, for the build log.
    """

    weight_store: list
    folding: object
    reason: str


def bram_bits_needed(estimate):
    """Bits that must live in block RAM: preloaded memories plus ``ram`` weights."""
    ram = sum(entry["loadable_weight_bits"] for entry in estimate.get("layers", ())
              if entry.get("weight_store") == "ram")
    return estimate["totals"]["memory_bits"] + ram


def _matrix(layer):
    """``(rows, columns, vectors per image)`` of a dense or convolution layer's weights;
    a convolution's matrix is ``C_out x k*k*C_in``, applied once per output pixel."""
    if isinstance(layer, QConv2D):
        h, w, _ = layer.out_shape
        return layer.n_out, layer.matrix.shape[1], h * w
    return layer.n_out, layer.n_in, 1


def spram_folding(layer, blocks, weight_bits):
    """The ``(pe, simd)`` that ``blocks`` SPRAMs can feed with (about) the fewest cycles.

    Among the foldings within :data:`SPRAM_CYCLE_SLACK` of the fewest cycles,
    the one with the fewest PEs wins. A convolution's PE divides its output
    channels (its output map is read by channel position).

    Parameters
    ----------
    layer : QLayer or QConv2D
    blocks : int
        ``SB_SPRAM256KA`` blocks available to the layer (side by side for
        width, stacked for depth).
    weight_bits : int
        Bits per weight (2 ternary, 1 binary).

    Returns
    -------
    (int, int) or None
        None when even PE = SIMD = 1 needs more blocks.
    """
    m, n, _ = _matrix(layer)
    conv = isinstance(layer, QConv2D)
    if weight_bits == 2:
        max_lanes = blocks * SLICE_BITS * TRITS_PER_BYTE // 8
    else:
        max_lanes = blocks * SLICE_BITS // weight_bits
    feasible = []
    for pe in range(1, min(m, max_lanes) + 1):
        if conv and m % pe:
            continue
        for simd in range(1, min(n, max_lanes // pe) + 1):
            slices = -(-stored_word_bits(pe * simd, weight_bits, True) // SLICE_BITS)
            depth = -(-m // pe) * -(-n // simd)
            if slices * -(-depth // SPRAM_DEPTH) <= blocks:
                feasible.append((depth, pe, simd))
    if not feasible:
        return None
    # Each PE costs an accumulator and a requantizer: within SPRAM_CYCLE_SLACK of the
    # fewest cycles, take the fewest PEs, then the fewest cycles, then the fewest lanes.
    fastest = min(depth for depth, _, _ in feasible)
    near = [(pe, depth, pe * simd, simd) for depth, pe, simd in feasible
            if depth <= fastest * (1 + SPRAM_CYCLE_SLACK)]
    pe, _, _, simd = min(near)
    return pe, simd


def _compositions(total, parts):
    """Every way to give ``parts`` layers at least one of ``total`` blocks each."""
    for cut in itertools.combinations(range(1, total), parts - 1):
        bounds = (0, *cut, total)
        yield [bounds[i + 1] - bounds[i] for i in range(parts)]


def _cycles(layer, pe, simd):
    """Compute cycles per image of a dense or convolution layer at ``(pe, simd)``."""
    m, n, vectors = _matrix(layer)
    return vectors * -(-m // pe) * -(-n // simd)


def _share_sprams(qnet, layers, blocks):
    """Folding of each SPRAM layer for the best split of ``blocks``, or None."""
    best, best_cycles = None, None
    for split in _compositions(blocks, len(layers)):
        folding = {}
        for k, count in zip(layers, split, strict=True):
            layer = qnet.layers[k]
            pair = spram_folding(layer, count, 2 if layer.weight_mode == "ternary" else 1)
            if pair is None:
                break
            folding[k] = pair
        else:
            cycles = max(_cycles(qnet.layers[k], pe, simd) for k, (pe, simd) in folding.items())
            if best_cycles is None or cycles < best_cycles:
                best, best_cycles = folding, cycles
    return best, best_cycles


def block_ram_budget(qnet, board, max_batch=1, bench=False, in_lanes=1):
    """Block RAMs the accelerator may take: the device's, less the board top's memories
    (its image ring of ``in_lanes`` pixels a word and, with batches, its answer FIFO; see
    :meth:`boards.board_top.BoardTop.memories`)."""
    from boards.board_top import BoardTop
    from boards.protocol import Layout

    top = sum(block_rams(width, depth)[board.family]
              for width, depth in BoardTop.memories(Layout.of(qnet), max_batch, bench,
                                                    in_lanes))
    return max(0, board.capacity.bram - top)


def _fits(estimate, board, budget):
    """Whether the block-RAM bits and blocks of ``estimate`` fit ``board``."""
    device = board.capacity
    return (bram_bits_needed(estimate) <= device.bram * device.bram_bits
            and estimate["totals"]["block_rams"][board.family] <= budget)


def _fitting_plan(qnet, folding, stores, board, budget, in_lanes=1):
    """The accelerator plan of ``folding`` and ``stores`` if it fits block RAM, else None."""
    try:
        plan = plan_accelerator(qnet, folding, in_lanes, weight_store=stores)
    except HardwareGenerationError:
        return None
    return plan if _fits(plan.estimate, board, budget) else None


def _spram_candidates(qnet, moved, stores, sprams, board, budget, target_cycles, lut_budget,
                      bram_budget, count_ff=False, in_lanes=1):
    """Every automatic folding with the ``moved`` layers in SPRAM that fits, as plans.

    All the SPRAMs feed the most lanes, but a wide SPRAM layer's base-3 decode
    tables and input buffer take block RAM too, which the other layers' folding
    then lacks: fewer blocks (fewer lanes) are tried as well.
    """
    plans = []
    for blocks in range(sprams, len(moved) - 1, -1):
        shared, cycles = _share_sprams(qnet, sorted(moved), blocks)
        if shared is None:
            continue
        goal = cycles if target_cycles is None else max(cycles, target_cycles)
        start = [shared.get(j, (1, 1)) for j in range(len(qnet.layers))]
        candidate = auto_folding(qnet, in_lanes=in_lanes, target_cycles=goal,
                                 lut_budget=lut_budget, weight_store=stores, start=start,
                                 bram_budget=bram_budget, count_ff=count_ff)
        plan = _fitting_plan(qnet, candidate, stores, board, budget, in_lanes)
        if plan is not None:
            plans.append(plan)
    return plans


def plan_memory(qnet, board, folding=None, *, lut_budget=None, target_cycles=None,
                count_ff=False, max_batch=1, bench=False, in_lanes=1):
    """Choose each layer's weight store (and, for SPRAM layers, the folding).

    Parameters
    ----------
    qnet : QNet
    board : boards.registry.Board
    folding : None, "auto" or list of (pe, simd)
        The requested folding. With ``"auto"``, the folding is chosen within
        ``lut_budget`` and the board's block RAMs; layers moved to SPRAM get
        :func:`spram_folding` and the others are folded to keep up, and the
        fastest choice that fits wins. An explicit folding is kept as it is
        (the fewest layers that make it fit move).
    lut_budget, target_cycles : int, optional
        For the automatic folding.
    count_ff : bool
        The budget counts LUTs plus flip-flops (:func:`hdl.folding.auto_folding`).
    max_batch, bench, in_lanes :
        The board top's (its image ring and answer FIFO take block RAM) and the
        accelerator's pixels per beat (the automatic folding keeps up with them).

    Returns
    -------
    MemoryPlan
        With ``"auto"`` resolved to a list.
    """
    n = len(qnet.layers)
    device = board.capacity
    stores = ["rom"] * n
    budget = block_ram_budget(qnet, board, max_batch, bench, in_lanes)
    bram_budget = {board.family: budget}
    resolved = resolve_folding(qnet, folding, in_lanes=in_lanes, lut_budget=lut_budget,
                               target_cycles=target_cycles, bram_budget=bram_budget,
                               count_ff=count_ff)
    chosen = resolved if folding == "auto" else folding
    estimate = plan_accelerator(qnet, resolved, in_lanes).estimate
    rom_bits, rom_blocks = (bram_bits_needed(estimate),
                            estimate["totals"]["block_rams"][board.family])
    if _fits(estimate, board, budget):
        return MemoryPlan(stores, chosen, "the weights fit block RAM")
    if device.spram == 0:
        return MemoryPlan(stores, chosen, "no SPRAM on this device")

    # Largest layers first: each one moved frees the most block RAM. A max-pool or
    # flatten has no weights to move.
    weighted = [k for k in range(n) if isinstance(qnet.layers[k], QLayer | QConv2D)]
    order = sorted(weighted, key=lambda k: qnet.layers[k].weights.size, reverse=True)
    moved, fitting = [], []
    for k in order:
        moved.append(k)
        stores[k] = "spram"
        if len(moved) > device.spram:
            break
        if folding != "auto":
            # An explicit folding is kept: the fewest layers that make it fit move.
            if _fitting_plan(qnet, resolved, stores, board, budget, in_lanes) is not None:
                fitting.append((sorted(moved), list(stores), folding))
                break
            continue
        # Moving another layer frees block RAM for the others' folding but splits
        # the SPRAMs: every fitting choice is a candidate, the fastest wins.
        for plan in _spram_candidates(qnet, moved, stores, device.spram, board, budget,
                                      target_cycles, lut_budget, bram_budget, count_ff,
                                      in_lanes):
            totals = plan.estimate["totals"]
            cost = totals["lut"] + (totals["ff"] if count_ff else 0)
            fitting.append(((plan.cycles_per_image, cost, len(moved)), sorted(moved),
                            list(stores),
                            [tuple(pair) for pair in plan.folding]))
    if fitting:
        if folding == "auto":
            # Within the LUT budget if any is: an SPRAM layer's own folding may exceed it.
            within = [c for c in fitting if lut_budget is None or c[0][1] <= lut_budget]
            _, names, chosen_stores, chosen_folding = min(within or fitting)
        else:
            names, chosen_stores, chosen_folding = fitting[0]
        names = ", ".join(str(j) for j in names)
        return MemoryPlan(chosen_stores, chosen_folding,
                          f"layer(s) {names} in SPRAM: all in block RAM would need "
                          f"{rom_bits:,} bits in {rom_blocks} blocks, the "
                          f"{board.device} has {device.bram * device.bram_bits:,} "
                          f"bits in {budget} blocks for the accelerator")
    # Nothing fits: leave the decision to the pre-check, which names the resource.
    return MemoryPlan(["rom"] * n, chosen, "the weights fit neither block RAM nor SPRAM")
