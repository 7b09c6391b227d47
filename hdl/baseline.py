"""Multiplier baseline: the same accelerator with a true ``*`` datapath on int8 weights.

For benchmarks only, so that the saving of the sign-select datapath is
measured rather than claimed. Every lane multiplies its input by an 8-bit
signed weight read from memory (the QNet's weights, stored as int8), and the
accumulators are sized for any int8 weight matrix of the layer's shape. It
computes the same function as the QNet, so it is checked like the real one.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hdl.accelerator import Accelerator
from hdl.adder_tree import registered_tree, tree_latency
from hdl.layer_plan import BASELINE_WEIGHT_BITS

__all__ = ["MultiplyAdderTree", "multiply_tree", "BaselineAccelerator", "reference"]


def reference(x, weights):
    """NumPy behaviour: ``sum(x * w)`` over the last axis."""
    return (np.asarray(x, dtype=np.int64) * np.asarray(weights, dtype=np.int64)).sum(axis=-1)


class MultiplyAdderTree(wiring.Component):
    """Registered products ``x * w`` and a registered adder tree over them.

    Same interface and latency as :class:`~hdl.adder_tree.SignSelectAdderTree`
    plus ``weight``; ``nonzero``/``negative`` carry the input's own code
    (pow2 inputs), and ``carry`` is always zero.

    Members
    -------
    valid_in : In(1)
    x : In(ArrayLayout(x_shape, lanes))
    nonzero, negative : In(lanes)
    weight : In(ArrayLayout(signed(8), lanes))
    valid_out : Out(1)
    partial : Out(signed(out_width))
    carry : Out(1)
    """

    def __init__(self, lanes, x_shape, out_width):
        self._lanes = int(lanes)
        self._x_shape = Shape.cast(x_shape)
        self._out_width = int(out_width)
        super().__init__({
            "valid_in": In(1),
            "x": In(data.ArrayLayout(self._x_shape, self._lanes)),
            "nonzero": In(self._lanes),
            "negative": In(self._lanes),
            "weight": In(data.ArrayLayout(signed(BASELINE_WEIGHT_BITS), self._lanes)),
            "valid_out": Out(1),
            "partial": Out(signed(self._out_width)),
            "carry": Out(1),
        })

    @property
    def latency(self):
        return tree_latency(self._lanes)

    def __repr__(self):
        return f"MultiplyAdderTree({self._lanes}, {self._x_shape!r}, {self._out_width})"

    def elaborate(self, platform):
        m = Module()
        x_width = self._x_shape.width + 1
        product_width = x_width + BASELINE_WEIGHT_BITS
        # Input register, as in the sign-select tree (same latency, same memory timing).
        x_r = Signal(data.ArrayLayout(self._x_shape, self._lanes))
        weight_r = Signal(data.ArrayLayout(signed(BASELINE_WEIGHT_BITS), self._lanes))
        nonzero_r = Signal(self._lanes)
        negative_r = Signal(self._lanes)
        valid_r = Signal()
        m.d.sync += [x_r.eq(self.x), weight_r.eq(self.weight), nonzero_r.eq(self.nonzero),
                     negative_r.eq(self.negative), valid_r.eq(self.valid_in)]
        nodes = []
        for k in range(self._lanes):
            x = Value.cast(x_r[k])
            x = x.as_signed() if self._x_shape.signed else x
            value = Signal(signed(x_width), name=f"x{k}")
            m.d.comb += value.eq(Mux(nonzero_r[k], Mux(negative_r[k], -x, x), 0))
            product = Signal(signed(product_width), name=f"product{k}")
            m.d.sync += product.eq(value * weight_r[k])
            nodes.append(product)
        (root, _), valid = registered_tree(m, [(p, None) for p in nodes], product_width,
                                           self._out_width, valid_r)
        m.d.comb += [self.partial.eq(root), self.carry.eq(0), self.valid_out.eq(valid)]
        return m


def multiply_tree(plan):
    """Tree factory for :class:`~hdl.mvu.MVU` in the baseline."""
    return MultiplyAdderTree(plan.simd, plan.leaf_shape, plan.acc_width + 1)


def BaselineAccelerator(qnet, folding=None, in_lanes=1, **options):  # noqa: N802
    """The multiplier baseline of ``qnet``: an :class:`Accelerator` with ``datapath="multiply"``."""
    return Accelerator(qnet, folding=folding, in_lanes=in_lanes, datapath="multiply", **options)
