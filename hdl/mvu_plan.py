"""Planning side of :mod:`hdl.mvu`: the layer engine's structure choices and latency.

Which input path an MVU builds and how deep its output FIFO is follow from
its :class:`~hdl.layer_plan.LayerPlan` alone, so the estimates
(:mod:`hdl.estimate`) and the component agree without importing it. No Amaranth.
"""

from hdl.adder_tree_plan import tree_latency
from hdl.regroup_plan import is_passthrough

__all__ = ["pipeline_latency", "fifo_depth", "input_registered", "uses_lane_writes",
           "GROUP_WAIT", "output_buffer_depth", "group_drain_latency"]

#: Cycles without an input write after which a layer whose engine is idle closes a
#: partial group of images (see :mod:`hdl.mvu`): a stream that stops after one image
#: still gets its answer, while images sent back to back fill whole groups.
GROUP_WAIT = 8


def pipeline_latency(plan):
    """Cycles from issuing a neuron fold's last input word to its FIFO write."""
    # memory read, (base-3 decode), tree, accumulator/parameter read, requantize
    decode = 1 if plan.weight_packing == "base3" else 0
    return 1 + decode + tree_latency(plan.simd) + 1 + plan.requantize.latency


def output_buffer_depth(plan):
    """Words of the output buffer of a layer with images in flight: two halves of one
    group's results, ``images * ceil(M/PE)`` each (image by image)."""
    return 2 * plan.images * plan.neuron_folds


def group_drain_latency(plan):
    """Cycles from issuing a group's last weight word to its first output beat
    (``images > 1``): the pipeline, the group's results leaving the requantizers
    one image per cycle, the write that completes the half, and the read."""
    return pipeline_latency(plan) + plan.images - 1 + 2


def fifo_depth(plan):
    """Output FIFO depth: enough reserved results to cover the pipeline at full rate."""
    return max(2, -(-(pipeline_latency(plan) + 2) // plan.input_folds) + 2)


def input_registered(plan):
    """Whether the input stream passes a :class:`~hdl.stream_register.StreamRegister` first.

    Only the first layer's: later layers read their producer's FIFO, whose
    output is already a register.
    """
    return plan.index == 0


def uses_lane_writes(plan):
    """Whether the input beats go straight into the buffer with lane write enables.

    That is the case when SIMD is a multiple of the incoming lanes (and the two
    differ or the vector ends in a partial word): a beat then never straddles
    two words, so it is written in place; otherwise a :class:`~hdl.regroup.Regroup`
    forms whole words first.
    """
    return plan.simd % plan.in_lanes == 0 and not is_passthrough(
        plan.in_lanes, plan.simd, plan.n_in)
