"""Sign-select adder tree: the multiplier-free dot product of one PE.

Each lane ``k`` contributes ``w[k] * x[k]`` with ``w`` in {-1, 0, +1}. The
product is a sign select in the cheap form ``(x ^ s) + s`` (``s`` all ones
for a negative term, so ``x ^ s`` is ``~x`` and ``+ s`` completes the
two's complement), gated to zero by the ``nonzero`` bit; no mux between
``+x`` and ``-x`` is built.

The ``+ s`` carries are not added separately: every two-input adder of the
tree absorbs one of them as its carry-in (``a + b + c`` is one adder, ``c``
entering its carry chain: :func:`add_with_carry`). A
tree over ``n`` lanes has ``n - 1`` adders and ``n`` carries, so exactly one
carry is left at the root; the accumulator absorbs it the same way. The
tree therefore outputs ``partial`` and ``carry`` with
``sum = partial + carry``.

Every level is registered (data registers without a reset on the families of
:mod:`hdl.register_reset`, the valid bits always with one): an unregistered
tree of 64 lanes is the critical path of the whole design on an iCE40. The
inputs are registered too, before the sign select: in an MVU they come
straight from block RAM, whose output is late (about 6 ns on the ECP5), and
wide SIMD spreads a tree's leaves over many blocks; with the select in the
same cycle that path limited the ECP5-85F to under 100 MHz.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hdl.adder_tree_plan import estimate, level_widths, tree_latency
from hdl.register_reset import data_registers_reset_less, zero_by_mask

__all__ = ["SignSelectAdderTree", "add_with_carry", "registered_tree", "reference", "estimate",
           "tree_latency"]


def reference(x, nonzero, negative):
    """NumPy behaviour: ``sum(where(nonzero, where(negative, -x, x), 0))`` over the last axis."""
    x = np.asarray(x, dtype=np.int64)
    terms = np.where(np.asarray(nonzero) != 0, np.where(np.asarray(negative) != 0, -x, x), 0)
    return terms.sum(axis=-1)


def add_with_carry(a, b, carry, width):
    """``a + b + carry`` as one adder, truncated to ``signed(width)``.

    Written as a plain three-term sum: Yosys's ``alumacc`` folds the one-bit
    term into the adder's carry-in (the ``CIN`` of the ECP5's carry chain, the
    iCE40's first ``SB_CARRY``), so it costs neither a second adder nor an
    extra bit of the chain. (Carrying it in an extra low bit of both operands
    instead, ``(2a + c) + (2b + c) >> 1``, cost one more bit of every adder:
    a whole ``CCU2C`` on the ECP5 whenever the sum's width is even.)
    """
    return (a + b + carry)[:width].as_signed()


def registered_tree(m, leaves, leaf_width, out_width, valid_in, reset_less=False):
    """Add ``leaves`` pairwise in a tree with one register per level, in ``m``.

    ``leaves`` are ``(value, carry)`` pairs, ``carry`` a 1-bit value or ``None``
    for none; each adder absorbs its left operand's carry with
    :func:`add_with_carry` and passes the right one's on. Level widths follow
    :func:`estimate`. Returns ``((value, carry), valid)`` at the root, ``valid``
    being ``valid_in`` delayed by one leaf register plus one per level.
    ``reset_less`` builds the value and carry registers without a reset (the
    valid bits always keep theirs).
    """
    nodes = list(leaves)
    valid = Signal(name="valid_leaf")
    m.d.sync += valid.eq(valid_in)
    for level, (_, width) in enumerate(level_widths(len(nodes), leaf_width, out_width)):
        nxt = []
        for pair in range(0, len(nodes), 2):
            value = Signal(signed(width), name=f"l{level}_n{pair // 2}",
                           reset_less=reset_less)
            if pair + 1 < len(nodes):
                (a, ca), (b, carry_in) = nodes[pair], nodes[pair + 1]
                m.d.sync += value.eq(add_with_carry(a, b, 0 if ca is None else ca, width))
            else:
                a, carry_in = nodes[pair]
                m.d.sync += value.eq(a)
            carry = None
            if carry_in is not None:
                carry = Signal(name=f"l{level}_n{pair // 2}_carry", reset_less=reset_less)
                m.d.sync += carry.eq(carry_in)
            nxt.append((value, carry))
        nodes = nxt
        valid_next = Signal(name=f"valid_l{level}")
        m.d.sync += valid_next.eq(valid)
        valid = valid_next
    (root,) = nodes
    return root, valid


class SignSelectAdderTree(wiring.Component):
    """Registered adder tree over ``lanes`` sign-selected terms.

    Parameters
    ----------
    lanes : int
        Number of terms (SIMD).
    x_shape : ShapeLike
        Shape of one input value (signed or unsigned).
    out_width : int
        Width of ``partial``; must hold every partial sum of the terms, plus one.

    Members
    -------
    valid_in : In(1)
    x : In(ArrayLayout(x_shape, lanes))
    nonzero, negative : In(lanes)
        Per lane: the term is zero / negative.
    valid_out : Out(1)
        ``valid_in`` delayed by :func:`tree_latency` cycles.
    partial : Out(signed(out_width))
    carry : Out(1)
        ``sum = partial + carry``.
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
            "valid_out": Out(1),
            "partial": Out(signed(self._out_width)),
            "carry": Out(1),
        })

    @property
    def latency(self):
        return tree_latency(self._lanes)

    @property
    def leaf_width(self):
        """Width of a sign-selected leaf: one more than the input, signed."""
        return self._x_shape.width + 1

    def __repr__(self):
        return f"SignSelectAdderTree({self._lanes}, {self._x_shape!r}, {self._out_width})"

    def elaborate(self, platform):
        m = Module()
        leaf_width = self.leaf_width
        # Data registers lose their reset where that helps the family's timing.
        reset_less = data_registers_reset_less(platform)
        # A zero weight's leaf: a LUT mask where per-lane resets crowd the family's tiles.
        masked = zero_by_mask(platform)
        # Input register: the sign select below reads flip-flops, not a memory port.
        x_r = Signal(data.ArrayLayout(self._x_shape, self._lanes), reset_less=reset_less)
        nonzero_r = Signal(self._lanes, reset_less=reset_less)
        negative_r = Signal(self._lanes, reset_less=reset_less)
        valid_r = Signal()
        m.d.sync += [x_r.eq(self.x), nonzero_r.eq(self.nonzero), negative_r.eq(self.negative),
                     valid_r.eq(self.valid_in)]
        nodes = []
        for k in range(self._lanes):
            value = Signal(signed(leaf_width), name=f"leaf{k}", reset_less=reset_less)
            x = Value.cast(x_r[k])
            x = x.as_signed() if self._x_shape.signed else x
            x_ext = Signal(signed(leaf_width), name=f"x{k}")
            neg = Signal(signed(leaf_width), name=f"s{k}")
            m.d.comb += [x_ext.eq(x), neg.eq(Mux(negative_r[k], -1, 0))]
            if masked:
                m.d.sync += value.eq((x_ext ^ neg) & nonzero_r[k].replicate(leaf_width))
            else:
                m.d.sync += value.eq(Mux(nonzero_r[k], x_ext ^ neg, 0))
            if self._x_shape.signed:
                carry = Signal(name=f"leaf{k}_carry", reset_less=reset_less)
                m.d.sync += carry.eq(nonzero_r[k] & negative_r[k])
            else:
                # An unsigned x extends with a zero, so the leaf's sign bit is
                # nonzero & negative already: the carry is that bit, not a copy of it.
                carry = value[leaf_width - 1]
            nodes.append((value, carry))
        (value, carry), valid = registered_tree(m, nodes, leaf_width, self._out_width, valid_r,
                                                reset_less)
        m.d.comb += [self.partial.eq(value), self.carry.eq(carry), self.valid_out.eq(valid)]
        return m
