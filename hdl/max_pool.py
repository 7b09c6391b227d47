"""Streaming max-pool unit: compares only, over a line of partial maxima.

Every input beat reads the partial maximum of its output column and group
from the line memory, takes the larger per lane (or the beat itself on the
window's first beat) and writes it back; on the window's last beat the
result goes out instead. The read port is transparent to the write, so a
beat sees the maximum its predecessor wrote in the same cycle. The values
are the saturated integers before power-of-two coding, which keeps the
order. Geometry, NumPy reference and estimate: :mod:`hdl.max_pool_plan`.
"""

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.max_pool_plan import PoolGeometry, estimate, pool_reference

__all__ = ["MaxPool", "PoolGeometry", "estimate", "pool_reference"]


def _pow2_key(code):
    """The signed order of a power-of-two code (see :func:`pow2_key`)."""
    code = Value.cast(code)
    plus = code[2:] + 1                 # unsigned, one bit wider than the exponent
    return Mux(code[0], Mux(code[1], -plus, plus), 0)


class MaxPool(wiring.Component):
    """``size x size`` max-pool, stride ``size``, of a channels-last stream.

    Parameters
    ----------
    geometry : PoolGeometry

    Members
    -------
    i : In(stream.Signature(ArrayLayout(element, lanes)))
        ``beats_in`` beats per image.
    o : Out(stream.Signature(ArrayLayout(element, lanes)))
        ``beats_out`` beats per image, channels-last.
    """

    def __init__(self, geometry):
        self._g = geometry
        element = (signed if geometry.signed else unsigned)(geometry.element_width)
        word = data.ArrayLayout(element, geometry.lanes)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    @property
    def geometry(self):
        return self._g

    def __repr__(self):
        return f"MaxPool({self._g!r})"

    def elaborate(self, platform):
        g = self._g
        m = Module()
        word = self.i.payload.shape()
        m.submodules.line = line = Memory(shape=unsigned(g.word_width), depth=g.depth, init=[])
        wr = line.write_port()
        rd = line.read_port(transparent_for=(wr,))

        # -- position of the incoming beat ------------------------------------
        grp = Signal(range(g.groups))
        rx = Signal(range(g.size))
        ry = Signal(range(g.size))
        ox = Signal(range(g.out_width + 1))     # out_width: the remainder columns
        oy = Signal(range(g.out_height + 1))    # out_height: the remainder rows
        addr = Signal(range(max(2, g.depth)))   # ox * groups + grp, counted

        # -- stage 1: the beat beside its partial maximum ----------------------
        s1_valid = Signal()
        s1_beat = Signal(word)
        s1_first = Signal()
        s1_last = Signal()
        s1_keep = Signal()
        s1_addr = Signal.like(addr)

        best = Signal(word)
        old = word(rd.data)
        for lane in range(g.lanes):
            a, b = s1_beat[lane], old[lane]
            greater = _pow2_key(a) > _pow2_key(b) if g.pow2 else a > b
            m.d.comb += best[lane].eq(Mux(s1_first | greater, a, b))

        emit = s1_valid & s1_keep & s1_last
        advance = Signal()
        m.d.comb += [
            self.o.valid.eq(emit),
            self.o.payload.eq(best),
            advance.eq(~emit | self.o.ready),
            self.i.ready.eq(advance),
            wr.en.eq(s1_valid & s1_keep & ~s1_last & advance),
            wr.addr.eq(s1_addr),
            wr.data.eq(best.as_value()),
            rd.en.eq(advance),
            rd.addr.eq(addr),
        ]

        take = self.i.valid & advance
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid),
                s1_beat.eq(self.i.payload),
                s1_first.eq((rx == 0) & (ry == 0)),
                s1_last.eq((rx == g.size - 1) & (ry == g.size - 1)),
                s1_keep.eq((ox != g.out_width) & (oy != g.out_height)),
                s1_addr.eq(addr),
            ]

        # Counters: group, column x (rx within the window, ox the window),
        # row y (ry, oy); ox == out_width / oy == out_height in a remainder.
        x = Signal(range(g.width))
        y = Signal(range(g.height))
        last_grp = grp == g.groups - 1
        last_rx = rx == g.size - 1
        last_x = x == g.width - 1
        end_pixel = take & last_grp
        with m.If(take):
            m.d.sync += [grp.eq(Mux(last_grp, 0, grp + 1)), addr.eq(addr + 1)]
        with m.If(end_pixel):
            m.d.sync += [x.eq(x + 1), rx.eq(Mux(last_rx, 0, rx + 1)),
                         ox.eq(Mux(last_rx, ox + 1, ox))]
            with m.If(~last_rx):
                m.d.sync += addr.eq(addr + 1 - g.groups)    # back to this column's words
            with m.If(last_x):
                m.d.sync += [x.eq(0), rx.eq(0), ox.eq(0), addr.eq(0),
                             y.eq(y + 1), ry.eq(Mux(ry == g.size - 1, 0, ry + 1)),
                             oy.eq(Mux(ry == g.size - 1, oy + 1, oy))]
                with m.If(y == g.height - 1):
                    m.d.sync += [y.eq(0), ry.eq(0), oy.eq(0)]
        return m
