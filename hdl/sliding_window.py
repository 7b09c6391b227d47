"""Sliding-window unit: a channels-last pixel stream in, im2col window vectors out.

The input words go into a ring of ``k + stride`` line slots (one
``amaranth.lib.memory`` block); per output pixel the reader walks the
``k * k * groups`` words of its window in ``(dy, dx, c)`` order and hands on
one word per cycle, with the layer's ``pad_value`` for positions outside the
map. The reader starts an output row once the rows it needs are complete and
releases the rows the next output row no longer needs; the writer stalls
only when every slot holds a row still needed. Geometry, NumPy reference
and estimate: :mod:`hdl.sliding_window_plan`.

Compared with a circular buffer whose read address is a sum of nested
counter offsets modulo the buffer size (FINN's RTL generator), the slots
here are a power of two words long, so an address is the slot counter beside
the column counter: the reader adds nothing and wraps only a slot counter.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.sliding_window_plan import WindowGeometry, estimate, window_reference

__all__ = ["SlidingWindow", "WindowGeometry", "estimate", "window_reference"]


def _bits(n):
    return max(1, int(n).bit_length())


class SlidingWindow(wiring.Component):
    """im2col over a stream, one word of ``lanes`` channel values per beat.

    Parameters
    ----------
    geometry : WindowGeometry

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(element_width), lanes)))
        The input map, channels-last, ``beats_in`` beats per image.
    o : Out(stream.Signature(ArrayLayout(unsigned(element_width), lanes)))
        Per output pixel (row-major) its window, ``(dy, dx, c)`` order,
        ``beats_out`` beats per image.
    """

    def __init__(self, geometry):
        self._g = geometry
        word = data.ArrayLayout(unsigned(geometry.element_width), geometry.lanes)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    @property
    def geometry(self):
        return self._g

    def __repr__(self):
        return f"SlidingWindow({self._g!r})"

    def elaborate(self, platform):
        g = self._g
        m = Module()
        (top, _), (left, _) = g.pads
        k, s, groups, rows = g.kernel, g.stride, g.groups, g.rows
        row_words = g.width * groups
        m.submodules.lines = lines = Memory(shape=unsigned(g.word_width), depth=g.depth,
                                            init=[])
        wr = lines.write_port()
        rd = lines.read_port()

        slot_shape = range(rows)
        filled = Signal(range(rows + 1))        # complete rows held, not yet released

        # -- writer: column counter beside slot counter ----------------------
        w_col = Signal(range(max(2, row_words)))
        w_slot = Signal(slot_shape)
        row_done = Signal()
        m.d.comb += [
            self.i.ready.eq(filled < rows),
            wr.addr.eq(Cat(w_col[:g.row_bits], w_slot)),
            wr.data.eq(self.i.payload.as_value()),
            wr.en.eq(self.i.valid & self.i.ready),
            row_done.eq(wr.en & (w_col == row_words - 1)),
        ]
        with m.If(wr.en):
            m.d.sync += w_col.eq(Mux(w_col == row_words - 1, 0, w_col + 1))
            with m.If(row_done):
                m.d.sync += w_slot.eq(Mux(w_slot == rows - 1, 0, w_slot + 1))

        # -- reader ---------------------------------------------------------
        row_shape = signed(_bits(g.height + k + s + top) + 1)
        col_shape = signed(_bits((g.out_width * s + k + left) * groups) + 1)
        oy = Signal(range(g.out_height))
        ox = Signal(range(g.out_width))
        dy = Signal(range(k))
        dx = Signal(range(k))
        grp = Signal(range(groups))
        iy0 = Signal(row_shape, init=-top)      # the window's top input row
        iy = Signal(row_shape, init=-top)       # the input row of dy
        col0 = Signal(col_shape, init=-left * groups)   # the window's first word column
        col = Signal(col_shape, init=-left * groups)
        base = Signal(slot_shape)               # slot of row max(iy0, 0)
        r_slot = Signal(slot_shape)             # slot of row iy

        last_oy = oy == g.out_height - 1
        top_real = Mux(iy0 < 0, 0, iy0)
        # Rows an output row waits for: its window's, and all it releases at its
        # end (a stride above k skips rows; the last output row releases the
        # image's remainder), so that a release never counts a row not yet written.
        bottom = iy0 + max(k, s)
        need = Mux(last_oy | (bottom > g.height), g.height, bottom) - top_real
        # need is registered: it cuts the path from the row counters through the
        # subtracters to every counter's enable (the clock on the UP5K). It is stale
        # for the one cycle after the output row changes, which then waits.
        need_r = Signal(range(-rows - k - s, rows + k + s + 1))
        settled = Signal()
        m.d.sync += [need_r.eq(need), settled.eq(1)]
        gen_valid = Signal()
        m.d.comb += gen_valid.eq(settled & (filled >= need_r))

        pad = Signal()
        m.d.comb += pad.eq((iy < 0) | (iy >= g.height) | (col < 0) | (col >= row_words))

        # One register stage: the memory's read, with the pad decision beside it.
        advance = Signal()
        fire = Signal()
        pad_r = Signal()
        grp_r = Signal(range(groups))
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            fire.eq(advance & gen_valid),
            rd.en.eq(advance),
            rd.addr.eq(Cat(col[:g.row_bits], r_slot)),
        ]
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(gen_valid), pad_r.eq(pad), grp_r.eq(grp)]

        pad_words = [Const(sum(int(g.pad_value[q * g.lanes + lane]) << (lane * g.element_width)
                               for lane in range(g.lanes)), g.word_width)
                     for q in range(groups)]
        pad_word = pad_words[0] if groups == 1 else Array(pad_words)[grp_r]
        m.d.comb += self.o.payload.as_value().eq(Mux(pad_r, pad_word, rd.data))

        # -- counters -------------------------------------------------------
        last_grp = grp == groups - 1
        last_dx = dx == k - 1
        last_dy = dy == k - 1
        last_ox = ox == g.out_width - 1
        end_row = fire & last_grp & last_dx
        end_window = end_row & last_dy
        end_out_row = end_window & last_ox

        next_top = iy0 + s
        release = Signal(range(rows + 1))
        m.d.comb += release.eq(Mux(last_oy, g.height, Mux(next_top < 0, 0, next_top))
                               - top_real)
        new_base = Signal(slot_shape)
        base_sum = base + release
        m.d.comb += new_base.eq(Mux(base_sum >= rows, base_sum - rows, base_sum))

        m.d.sync += filled.eq(filled + row_done - Mux(end_out_row, release, 0))

        with m.If(fire):
            m.d.sync += [grp.eq(Mux(last_grp, 0, grp + 1)), col.eq(col + 1)]
            with m.If(last_grp):
                m.d.sync += dx.eq(Mux(last_dx, 0, dx + 1))
        with m.If(end_row):
            m.d.sync += col.eq(col0)
            with m.If(~last_dy):
                m.d.sync += [dy.eq(dy + 1), iy.eq(iy + 1)]
                # A padding row above the map holds no slot.
                with m.If(iy >= 0):
                    m.d.sync += r_slot.eq(Mux(r_slot == rows - 1, 0, r_slot + 1))
        with m.If(end_window):
            m.d.sync += dy.eq(0)
            with m.If(~last_ox):
                m.d.sync += [ox.eq(ox + 1), col0.eq(col0 + s * groups),
                             col.eq(col0 + s * groups), iy.eq(iy0), r_slot.eq(base)]
        with m.If(end_out_row):
            m.d.sync += [settled.eq(0), ox.eq(0), col0.eq(-left * groups), col.eq(-left * groups),
                         base.eq(new_base), r_slot.eq(new_base)]
            with m.If(last_oy):
                m.d.sync += [oy.eq(0), iy0.eq(-top), iy.eq(-top)]
            with m.Else():
                m.d.sync += [oy.eq(oy + 1), iy0.eq(next_top), iy.eq(next_top)]
        return m
