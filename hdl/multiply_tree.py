"""The int8 multiplier tree of the benchmark baseline (:mod:`hdl.baseline`).

Every lane multiplies its input by an 8-bit signed weight with a true ``*``
and a registered adder tree sums the products; it sits beside
:class:`~hdl.adder_tree.SignSelectAdderTree` so that an MVU can build either
(``plan.datapath``) without importing the baseline accelerator.
"""

from amaranth.hdl import Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hdl.adder_tree import registered_tree, tree_latency
from hdl.layer_plan import BASELINE_WEIGHT_BITS
from hdl.register_reset import data_registers_reset_less

__all__ = ["MultiplyAdderTree"]


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
        # Input register, as in the sign-select tree (same latency, same memory timing,
        # same per-family reset choice).
        reset_less = data_registers_reset_less(platform)
        x_r = Signal(data.ArrayLayout(self._x_shape, self._lanes), reset_less=reset_less)
        weight_r = Signal(data.ArrayLayout(signed(BASELINE_WEIGHT_BITS), self._lanes),
                          reset_less=reset_less)
        nonzero_r = Signal(self._lanes, reset_less=reset_less)
        negative_r = Signal(self._lanes, reset_less=reset_less)
        valid_r = Signal()
        m.d.sync += [x_r.eq(self.x), weight_r.eq(self.weight), nonzero_r.eq(self.nonzero),
                     negative_r.eq(self.negative), valid_r.eq(self.valid_in)]
        nodes = []
        for k in range(self._lanes):
            x = Value.cast(x_r[k])
            x = x.as_signed() if self._x_shape.signed else x
            value = Signal(signed(x_width), name=f"x{k}")
            m.d.comb += value.eq(Mux(nonzero_r[k], Mux(negative_r[k], -x, x), 0))
            product = Signal(signed(product_width), name=f"product{k}", reset_less=reset_less)
            m.d.sync += product.eq(value * weight_r[k])
            nodes.append(product)
        (root, _), valid = registered_tree(m, [(p, None) for p in nodes], product_width,
                                           self._out_width, valid_r, reset_less)
        m.d.comb += [self.partial.eq(root), self.carry.eq(0), self.valid_out.eq(valid)]
        return m
