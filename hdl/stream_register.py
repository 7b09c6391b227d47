"""Stream register: one pipeline register on a stream's valid and payload.

An accelerator's input stream comes from logic the accelerator does not
control (on a board, a block RAM read port whose data arrive late in the
cycle), and the first layer fans every pixel out to all SIMD lanes of its
input buffer. Without a register in between, the two add up to one path: on
the ECP5-85F, block RAM output, then routing across the chip to some hundred
distributed-RAM write ports, 14 ns. :class:`StreamRegister` cuts it at the
cost of one cycle of latency and no throughput: a beat is taken whenever the
register is empty or is emptied in the same cycle.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.stream_register_plan import estimate

__all__ = ["StreamRegister", "estimate"]


class StreamRegister(wiring.Component):
    """Register the valid and payload of a stream; ready passes through.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape.

    Members
    -------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
        The beats of ``i``, one cycle later, in order; at one beat per cycle
        when ``o.ready`` stays high.
    """

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def __repr__(self):
        return f"StreamRegister({self._shape!r})"

    def elaborate(self, platform):
        m = Module()
        # ready is combinational from o.ready: the register moves whenever its beat
        # leaves (or it holds none), so a full-rate stream keeps its full rate.
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m
