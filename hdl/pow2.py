"""Power-of-two activation code: encoder and decoder.

A non-zero activation ``y`` is handed on as ``sign * 2**e``: ``e`` is the
position of the leading one of ``|y|`` plus one if the next lower bit is set
(ties round up), clamped to ``[0, e_max]``; zero stays zero. The next layer
multiplies a weight by ``±2**e``, which is a shifted one, never a product.

The code travels between layers as :data:`pow2_layout`-shaped values:
``nonzero`` (0 means the value is zero), ``sign`` (1 means negative) and
``exponent``.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden_model.qnet import pow2_decode, pow2_encode
from hdl.barrel_shifter import BarrelShifter
from hdl.pow2_plan import estimate_decoder, estimate_encoder, exponent_bits

__all__ = ["pow2_layout", "Pow2Encoder", "Pow2Decoder", "reference_encode",
           "reference_decode", "estimate_encoder", "estimate_decoder"]


def pow2_layout(e_max):
    """Layout of one power-of-two code with exponents up to ``e_max``."""
    return data.StructLayout({
        "nonzero": unsigned(1),
        "sign": unsigned(1),
        "exponent": unsigned(exponent_bits(e_max)),
    })


def reference_encode(y, e_max):
    """NumPy behaviour of :class:`Pow2Encoder`: ``(nonzero, sign, exponent)``."""
    sign, exponent = pow2_encode(y, e_max)
    return (sign != 0).astype(np.int64), (sign < 0).astype(np.int64), exponent


def reference_decode(nonzero, sign, exponent):
    """NumPy behaviour of :class:`Pow2Decoder`: the signed value of a code."""
    s = np.where(np.asarray(nonzero) != 0, np.where(np.asarray(sign) != 0, -1, 1), 0)
    return pow2_decode(s, exponent)


class Pow2Encoder(wiring.Component):
    """Leading-one detector with round bit and clamp, combinational.

    Parameters
    ----------
    shape : ShapeLike
        Shape of the saturated activation ``y`` (signed or unsigned).
    e_max : int
        Largest exponent.

    Members
    -------
    y : In(shape)
    code : Out(pow2_layout(e_max))
    """

    def __init__(self, shape, e_max):
        self._shape = Shape.cast(shape)
        self._e_max = int(e_max)
        super().__init__({"y": In(self._shape), "code": Out(pow2_layout(self._e_max))})

    def __repr__(self):
        return f"Pow2Encoder({self._shape!r}, {self._e_max})"

    def elaborate(self, platform):
        m = Module()
        width = self._shape.width
        magnitude = Signal(unsigned(width))
        if self._shape.signed:
            m.d.comb += magnitude.eq(Mux(self.y < 0, -self.y, self.y))
        else:
            m.d.comb += magnitude.eq(self.y)
        # Leading one plus round bit; later (higher) bits take priority.
        raw = Signal(range(width + 1))
        choice = 0
        for bit in range(width):
            below = magnitude[bit - 1] if bit > 0 else 0
            choice = Mux(magnitude[bit], bit + below, choice)
        m.d.comb += raw.eq(choice)
        m.d.comb += [
            self.code.nonzero.eq(magnitude != 0),
            self.code.sign.eq(self.y < 0 if self._shape.signed else 0),
            self.code.exponent.eq(Mux(raw > self._e_max, self._e_max, raw)),
        ]
        return m


class Pow2Decoder(wiring.Component):
    """Magnitude ``2**exponent`` of a code (zero where the code is zero).

    The sign is left to the consumer: the adder tree folds it into its
    sign-select, so no negation is spent here.

    Parameters
    ----------
    e_max : int

    Members
    -------
    code : In(pow2_layout(e_max))
    magnitude : Out(unsigned(e_max + 1))
    """

    def __init__(self, e_max):
        self._e_max = int(e_max)
        super().__init__({
            "code": In(pow2_layout(self._e_max)),
            "magnitude": Out(unsigned(self._e_max + 1)),
        })

    def __repr__(self):
        return f"Pow2Decoder({self._e_max})"

    def elaborate(self, platform):
        m = Module()
        m.submodules.shifter = shifter = BarrelShifter(
            unsigned(self._e_max + 1), self._e_max, direction="left")
        m.d.comb += [
            shifter.i.eq(self.code.nonzero),
            shifter.amount.eq(self.code.exponent),
            self.magnitude.eq(shifter.o),
        ]
        return m
