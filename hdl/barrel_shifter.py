"""Logarithmic barrel shifter: one 2:1 multiplexer stage per bit of the amount.

Used by the requantize unit for the per-neuron shift ``s[j]`` and by the
power-of-two decoder (a one shifted by the exponent). A shift by a variable
amount is a mux network, never a multiplication.
"""

import numpy as np
from amaranth.hdl import Mux, Shape, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.barrel_shifter_plan import estimate

__all__ = ["BarrelShifter", "reference", "estimate"]


def reference(value, amount, direction="right"):
    """NumPy behaviour: ``value >> amount`` (arithmetic, floor) or ``value << amount``."""
    value = np.asarray(value, dtype=np.int64)
    amount = np.asarray(amount, dtype=np.int64)
    return value >> amount if direction == "right" else value << amount


class BarrelShifter(wiring.Component):
    """Shift by a run-time amount in ``[0, max_amount]``, combinationally.

    Parameters
    ----------
    shape : ShapeLike
        Shape of the input; a signed input shifts right arithmetically.
    max_amount : int
        Largest amount; sets the number of mux stages (``bit_length``).
    direction : {"right", "left"}
        ``"left"`` drops the bits shifted out above ``out_width``.
    out_width : int, optional
        Width of ``o`` (defaults to the input width); signedness follows the input.

    Members
    -------
    i : In(shape)
    amount : In(unsigned)
    o : Out(shape of ``out_width``)
    """

    def __init__(self, shape, max_amount, direction="right", out_width=None):
        shape = Shape.cast(shape)
        if direction not in ("right", "left"):
            self._MustUse__silence = True  # never elaborated: no "unused" warning
            raise ValueError(f"direction must be 'right' or 'left', not {direction!r}")
        self._shape = shape
        self._max_amount = int(max_amount)
        self._direction = direction
        self._out_width = shape.width if out_width is None else int(out_width)
        out_shape = signed(self._out_width) if shape.signed else unsigned(self._out_width)
        super().__init__({
            "i": In(shape),
            "amount": In(unsigned(max(1, self._max_amount.bit_length()))),
            "o": Out(out_shape),
        })

    @property
    def max_amount(self):
        return self._max_amount

    def __repr__(self):
        return (f"BarrelShifter({self._shape!r}, {self._max_amount}, "
                f"direction={self._direction!r}, out_width={self._out_width})")

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        width = max(self._shape.width, self._out_width)
        shape = signed(width) if self._shape.signed else unsigned(width)
        value = Signal(shape)
        m.d.comb += value.eq(self.i)
        for stage in range(self._max_amount.bit_length()):
            step = 1 << stage
            moved = value >> step if self._direction == "right" else value << step
            nxt = Signal(shape, name=f"stage{stage}")
            # Constant shifts are wiring; each stage costs one 2:1 mux per bit.
            m.d.comb += nxt.eq(Mux(self.amount[stage], moved, value))
            value = nxt
        m.d.comb += self.o.eq(value)
        return m
