"""Cycle and resource estimates of a planned accelerator, as a JSON-able report.

Per layer: cycles per image (the compute loop ``ceil(M/PE) * ceil(N/SIMD)``
or the input stream, whichever is slower), latency, and LUT4/FF/memory-bit
estimates summed from the primitives' own estimates. The accelerator's
initiation interval is the slowest stage's; its latency the sum.

``memory_bits`` counts the memories a bitstream preloads or that synthesis
maps to block RAM; loadable weights (``ram``/``spram``) are counted apart,
with the SPRAM blocks they take. ``block_rams`` counts whole blocks per
memory shape (:func:`block_rams`), which is what a device runs out of.
"""


from dataclasses import dataclass

from golden_model.output_files import write_json
from hdl import (
    adder_tree_plan,
    argmax_plan,
    max_pool_plan,
    regroup_plan,
    requantize_plan,
    stream_register_plan,
    weight_memory_plan,
)
from hdl.layer_plan import TRITS_PER_BYTE
from hdl.mvu_plan import (
    GROUP_WAIT,
    fifo_depth,
    group_drain_latency,
    input_registered,
    output_buffer_depth,
    pipeline_latency,
    uses_lane_writes,
)
from hdl.pow2_plan import estimate_decoder
from hdl.sliding_window_plan import estimate as window_estimate

__all__ = ["layer_estimate", "accelerator_estimate", "write_report", "PlannedMemory",
           "layer_memories"]

#: Counters, flags and address muxes of one MVU's control (LUT4 and FFs).
_CONTROL_LUT = 40
_CONTROL_FF = 24
#: Memories up to this depth are estimated as registers (Yosys maps them to logic).
LOGIC_MEMORY_DEPTH = 8
#: Block RAM bits one base-3 decode table occupies (a whole iCE40 4-kbit block).
DECODE_TABLE_BITS = 4096
#: Beats between the FIFO write and the consumer (SyncFIFOBuffered's output register).
_FIFO_LATENCY = 2
#: Extra control of images in flight: slot and idle counters, output-half flags and
#: read pointer (LUT4 and FFs).
_GROUP_CONTROL_LUT = 40
_GROUP_CONTROL_FF = 30


#: Block RAM shapes (width, depth) one block can take, per family: iCE40 SB_RAM40_4K,
#: ECP5 DP16KD (36 bits wide in its pseudo dual-port mode).
BLOCK_RAM_SHAPES = {
    "ice40": ((16, 256), (8, 512), (4, 1024), (2, 2048)),
    "ecp5": ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)),
}


def block_rams(width, depth):
    """Block RAMs a ``width`` x ``depth`` memory takes, per family (0 when built from logic).

    A memory takes whole blocks in the one shape that needs the fewest, so a
    wide, shallow memory costs far more blocks than its bits suggest.
    """
    if depth <= LOGIC_MEMORY_DEPTH or width == 0:
        return {family: 0 for family in BLOCK_RAM_SHAPES}
    return {family: min(-(-width // w) * -(-depth // d) for w, d in shapes)
            for family, shapes in BLOCK_RAM_SHAPES.items()}


def memory_cost(width, depth):
    """Logic cost of a memory that synthesis builds from flip-flops rather than block RAM.

    Shallow memories (up to :data:`LOGIC_MEMORY_DEPTH` words, e.g. the input
    buffer of a layer with one or two input folds, or the output FIFO) become
    registers plus a read multiplexer; deeper ones map to block RAM and cost
    no LUTs here (their bits are reported separately).
    """
    if depth > LOGIC_MEMORY_DEPTH:
        return {"lut": 0, "ff": 0}
    return {"lut": width * max(0, depth - 1), "ff": width * depth}


@dataclass(frozen=True)
class PlannedMemory:
    """One memory of a layer as synthesis will build it.

    Members
    -------
    name : str
        ``input_buffer``, ``weights``, ``parameters``, ``output_fifo`` or
        ``weight_decode<b>`` (the base-3 decode table of packed byte ``b``).
    kind : str
        ``logic`` (up to :data:`LOGIC_MEMORY_DEPTH` words), ``block_ram`` or ``spram``.
    width, depth : int
        Bits per word and words.
    block_rams : dict
        ``family -> blocks`` (:func:`block_rams`; 0 for logic and SPRAM).
    """

    name: str
    kind: str
    width: int
    depth: int
    block_rams: dict


def layer_memories(plan):
    """The memories of the MVU of ``plan``, as :class:`PlannedMemory` (a tuple); with
    images in flight the output FIFO is an ``output_buffer`` of two groups' results."""
    output = (("output_fifo", plan.pe * plan.out_element_width, fifo_depth(plan))
              if plan.images == 1 else
              ("output_buffer", plan.pe * plan.out_element_width, output_buffer_depth(plan)))
    shapes = [("input_buffer", plan.images * plan.simd * plan.element_width,
               2 * plan.input_folds),
              ("weights", plan.weight_word_bits, plan.weight_depth),
              ("parameters", plan.param_width, len(plan.param_words)),
              output]
    shapes += [(f"weight_decode{b}", 2 * TRITS_PER_BYTE, 256) for b in range(plan.packed_bytes)]
    if plan.window is not None:
        shapes.append(("line_buffer", plan.window.word_width, plan.window.depth))
    memories = []
    for name, width, depth in shapes:
        if name == "weights" and plan.weight_store == "spram":
            kind, blocks = "spram", {family: 0 for family in BLOCK_RAM_SHAPES}
        else:
            kind = "logic" if depth <= LOGIC_MEMORY_DEPTH or width == 0 else "block_ram"
            blocks = block_rams(width, depth)
        memories.append(PlannedMemory(name, kind, int(width), int(depth), blocks))
    return tuple(memories)


def _per_image(cycles, images):
    """Cycles per image of a loop a group of ``images`` shares: exact (an int when it
    divides, else a float)."""
    return cycles // images if cycles % images == 0 else cycles / images


def _count(value):
    """An int for whole numbers, else the float (a group's cycles shared by its images)."""
    return int(value) if float(value).is_integer() else float(value)


def layer_estimate(plan):
    """Estimate of one MVU from its :class:`~hdl.layer_plan.LayerPlan`."""
    beats_in = -(-plan.n_in // plan.in_lanes)
    images = plan.images
    # A convolution's MVU takes one window vector per output pixel; a group of images in
    # flight shares one pass of the compute loop.
    cycles = plan.vectors * max(_per_image(plan.compute_cycles, images), beats_in)
    if plan.window is not None and beats_in >= plan.compute_cycles:
        cycles += plan.window.out_height  # the window unit waits a cycle per output row
    window = (window_estimate(plan.window) if plan.window is not None
              else {"lut": 0, "ff": 0, "bits": 0})
    leaf_width = plan.leaf_shape.width + 1
    if plan.datapath == "multiply":
        # A shift-and-add array multiplier of leaf x 8 bits, in LUT4 without DSPs.
        tree = adder_tree_plan.estimate(plan.simd, leaf_width + plan.weight_bits,
                                        plan.acc_width + 1)
        tree["lut"] += plan.simd * leaf_width * plan.weight_bits
    else:
        tree = adder_tree_plan.estimate(plan.simd, leaf_width, plan.acc_width + 1)
    unit = requantize_plan.estimate(plan.requantize)
    if uses_lane_writes(plan):
        # In-place lane writes: lane enables from a one-hot group register, a beat counter.
        group = {"lut": plan.simd + 12,
                 "ff": plan.simd // plan.in_lanes + max(1, beats_in.bit_length()) + 4,
                 "cycles": beats_in}
    else:
        group = regroup_plan.estimate(plan.element_width, plan.in_lanes, plan.simd, plan.n_in)
    register = (stream_register_plan.estimate(plan.in_lanes * plan.element_width)
                if input_registered(plan) else {"lut": 0, "ff": 0, "cycles": 0})
    decoders = images * plan.simd * estimate_decoder(plan.in_e_max)["lut"] if plan.in_pow2 else 0
    out_bits = plan.pe * plan.out_element_width
    depth = fifo_depth(plan) if images == 1 else output_buffer_depth(plan)
    memories = [
        memory_cost(images * plan.simd * plan.element_width, 2 * plan.input_folds),
        weight_memory_plan.estimate(plan) if plan.loadable
        else memory_cost(plan.lanes * plan.weight_bits, len(plan.weight_words)),
        memory_cost(plan.param_width, len(plan.param_words)),
        memory_cost(out_bits, depth),
    ]
    # One tree and accumulator per lane and image; the requantizers are shared: a fold's
    # results pass them one image per cycle, images 1 .. B-1 waiting in a shift chain.
    lanes = images * plan.pe
    serial = {"lut": 0, "ff": 0} if images == 1 else {
        "lut": plan.pe * plan.acc_width * min(images - 1, 2) + _GROUP_CONTROL_LUT
        + (images - 1) * plan.simd,
        "ff": (images - 1) * plan.pe * plan.acc_width + _GROUP_CONTROL_FF}
    lut = (lanes * (tree["lut"] + plan.acc_width) + plan.pe * unit["lut"] + group["lut"]
           + decoders + register["lut"] + _CONTROL_LUT + out_bits
           + sum(cost["lut"] for cost in memories) + window["lut"] + serial["lut"])
    ff = (lanes * (tree["ff"] + plan.acc_width) + plan.pe * unit["ff"] + group["ff"]
          + register["ff"] + _CONTROL_FF + 2 * out_bits + sum(cost["ff"] for cost in memories)
          + window["ff"] + serial["ff"])
    # A layer starts once its whole input vector is buffered. For the first layer that is
    # the pixel stream; a later layer's vector arrives while its producer computes, so only
    # the producer's last beat (regrouped into SIMD-wide words) is left to load.
    # The input register delays the whole vector by its one cycle.
    load = (max(beats_in, plan.input_folds) if plan.index == 0
            else -(-plan.in_lanes // plan.simd)) + register["cycles"]
    if images == 1:
        latency = (load + plan.compute_cycles + pipeline_latency(plan) + _FIFO_LATENCY
                   + (plan.vectors - 1) * max(plan.compute_cycles, beats_in))
    else:
        # An image sent alone: its group closes GROUP_WAIT cycles after its last write and
        # its beats leave after the whole group's results, one beat per cycle.
        latency = (load + GROUP_WAIT + plan.compute_cycles + group_drain_latency(plan)
                   + plan.neuron_folds - 1)
    return {
        "layer": plan.index,
        "n_in": plan.n_in,
        "n_out": plan.n_out,
        "pe": plan.pe,
        "simd": plan.simd,
        "in_lanes": plan.in_lanes,
        "datapath": plan.datapath,
        "cycles_per_image": _count(cycles),
        "compute_cycles": int(plan.compute_cycles),
        "input_beats": int(beats_in),
        "latency_cycles": int(latency),
        "lut": int(lut),
        "ff": int(ff),
        "weight_store": plan.weight_store,
        # Loadable weights live outside the preloaded memories (in SPRAM on the UP5K).
        "loadable_weight_bits": int(plan.weight_memory_bits if plan.loadable else 0),
        "spram_blocks": int(plan.spram_blocks),
        "memory_bits": {
            "weights": int(0 if plan.loadable else plan.weight_memory_bits),
            "input_buffer": int(plan.buffer_bits),
            "parameters": int(plan.param_memory_bits),
            "output_fifo": int(depth * out_bits),
            # One 256-entry decode table per packed byte; each takes a block RAM of its own.
            "weight_decode": int(plan.packed_bytes * DECODE_TABLE_BITS),
        } | ({"line_buffer": int(window["bits"])} if plan.window is not None else {}),
        "block_rams": _layer_block_rams(plan),
        "acc_width": int(plan.acc_width),
    } | ({"images": int(images)} if images > 1 else {})


def _layer_block_rams(plan):
    """Block RAMs of one layer per family: its buffer, ROM or ram weights, parameters,
    output FIFO and decode tables (SPRAM weights take none)."""
    memories = layer_memories(plan)
    return {family: int(sum(memory.block_rams[family] for memory in memories))
            for family in BLOCK_RAM_SHAPES}


def accelerator_estimate(plans, n_classes, pools=()):
    """Estimate of the whole pipeline: per layer, the max-pools (``(k, PoolGeometry)``),
    the argmax stage and totals."""
    layers = [layer_estimate(plan) for plan in plans]
    pooled = [max_pool_plan.estimate(geometry) for _, geometry in pools]
    last = plans[-1]
    collect = argmax_plan.estimate(n_classes, last.pe, last.requantize.z_width)
    stages = [entry["cycles_per_image"] for entry in layers] + [collect["cycles"]]
    memory = sum(sum(entry["memory_bits"].values()) for entry in layers)
    extra = ({"pools": [dict(cost, layer=k) for (k, _), cost in zip(pools, pooled, strict=True)]}
             if pools else {})
    return extra | {
        "layers": layers,
        "argmax": collect,
        "cycles_per_image": _count(max(stages)),
        # The collector takes each logit beat as it is produced; its answer follows the
        # last beat by its own latency.
        "latency_cycles": int(sum(entry["latency_cycles"] for entry in layers)
                              + collect["latency"]),
        "bottleneck": int(stages.index(max(stages))),
        "totals": {
            "lut": int(sum(entry["lut"] for entry in layers + pooled) + collect["lut"]),
            "ff": int(sum(entry["ff"] for entry in layers + pooled) + collect["ff"]),
            "memory_bits": int(memory + sum(cost["bits"] for cost in pooled)),
            "loadable_weight_bits": int(sum(entry["loadable_weight_bits"] for entry in layers)),
            "spram_blocks": int(sum(entry["spram_blocks"] for entry in layers)),
            "block_rams": {family: int(sum(entry["block_rams"][family] for entry in layers))
                           for family in BLOCK_RAM_SHAPES},
            "mac_lanes": int(sum(plan.lanes for plan in plans)),
        },
    }


def write_report(report, path):
    """Write an estimate as indented JSON (atomically)."""
    write_json(path, report, indent=2, sort_keys=True)
