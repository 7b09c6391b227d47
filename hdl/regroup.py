"""Lane-width converter for a stream of fixed-length vectors.

Between two layers the producer hands on PE values per beat and the consumer
wants SIMD values per word; the first layer gets ``in_lanes`` pixels per
beat. :class:`Regroup` turns beats of ``in_lanes`` elements into words of
``out_lanes`` elements for vectors of ``length`` elements: the padding lanes
of a vector's last input beat are dropped, and the last output word of a
vector is padded with zero elements (an all-zero element is the value zero
in every code used between layers), so that the consumer's padding weights
multiply zeros.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.regroup_plan import estimate, is_passthrough

__all__ = ["Regroup", "reference", "estimate"]


def reference(vectors, out_lanes):
    """NumPy behaviour: each vector zero-padded and cut into words of ``out_lanes``."""
    vectors = np.asarray(vectors, dtype=np.int64)
    length = vectors.shape[-1]
    words = -(-length // out_lanes)
    padded = np.zeros(vectors.shape[:-1] + (words * out_lanes,), dtype=np.int64)
    padded[..., :length] = vectors
    return padded.reshape(vectors.shape[:-1] + (words, out_lanes))


class Regroup(wiring.Component):
    """Convert beats of ``in_lanes`` elements into words of ``out_lanes``.

    Parameters
    ----------
    element_width : int
    in_lanes, out_lanes : int
    length : int
        Elements per vector: ``ceil(length / in_lanes)`` beats in,
        ``ceil(length / out_lanes)`` words out per vector.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(element_width), in_lanes)))
    o : Out(stream.Signature(ArrayLayout(unsigned(element_width), out_lanes)))

    Notes
    -----
    A staging register of ``in_lanes + out_lanes`` elements rounded up to
    whole words; a beat is accepted whenever it fits after this cycle's output
    word leaves, so it runs at one beat per cycle whenever the output keeps
    up, across vector boundaries too. Elements above the fill level are kept
    at zero, which pads the last word. When the widths are equal and divide
    ``length``, the component is a wire.
    """

    def __init__(self, element_width, in_lanes, out_lanes, length):
        self._element_width = int(element_width)
        self._in_lanes = int(in_lanes)
        self._out_lanes = int(out_lanes)
        self._length = int(length)
        element = unsigned(self._element_width)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(element, self._in_lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(element, self._out_lanes))),
        })

    def __repr__(self):
        return (f"Regroup({self._element_width}, {self._in_lanes}, {self._out_lanes}, "
                f"{self._length})")

    def elaborate(self, platform):
        m = Module()
        n_in, n_out, length = self._in_lanes, self._out_lanes, self._length
        if is_passthrough(n_in, n_out, length):
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
            return m

        # A vector's last word is completed by rounding the fill level up to a whole
        # word: the slots above the level are zero, so the padding is already there and
        # the next vector's first beat can follow in the same cycle.
        words = -(-(n_in + n_out) // n_out)
        slots = words * n_out
        beats = -(-length // n_in)
        tail = length - (beats - 1) * n_in  # elements of a vector's last beat
        stage = [Signal(self._element_width, name=f"slot{p}") for p in range(slots)]
        count = Signal(range(slots + 1))
        beat = Signal(range(beats))
        last_beat = Signal(init=int(beats == 1))  # the next beat is the vector's last

        # Everything below is decoded from the registers `count` and `last_beat` for both
        # outcomes of this cycle's output transfer, and only then selected by `emit`: the
        # consumer's ready (late, from another unit) passes one mux level, not the
        # subtraction and the compare per slot that limited the ECP5 at wide SIMD.
        emit = Signal()
        accept = Signal()
        m.d.comb += [
            self.o.valid.eq(count >= n_out),
            emit.eq(self.o.valid & self.o.ready),
            # The beat must fit above what stays: `kept <= n_out`, kept = count - n_out
            # after an output word, else count.
            self.i.ready.eq(Mux(emit, count <= 2 * n_out, count <= n_out)),
            accept.eq(self.i.valid & self.i.ready),
        ]
        for k in range(n_out):
            m.d.comb += self.o.payload[k].eq(stage[k])

        for p in range(slots):
            shifted = stage[p + n_out] if p + n_out < slots else 0
            nxt = Signal(self._element_width, name=f"slot{p}_next")
            m.d.comb += nxt.eq(Mux(emit, shifted, stage[p]))
            with m.If(accept):
                for k in range(min(n_in, p + 1)):
                    # Lane k of the beat lands at kept + k; the last beat's lanes past the
                    # vector's end are dropped.
                    here = Mux(emit, count == p - k + n_out, count == p - k)
                    belongs = 1 if k < tail else ~last_beat
                    with m.If(here & belongs):
                        m.d.comb += nxt.eq(self.i.payload[k])
            m.d.sync += stage[p].eq(nxt)

        # The next fill level for each case (output word or not, last beat or not), from
        # the register `count` alone. A vector's last beat rounds the level up to a whole
        # word: a short chain of compares with constants (`words` of them), not a table.
        def closed(offset):
            value = 0
            for j in range(words):
                threshold = j * n_out - offset  # count + offset > j * n_out
                value = Mux(count > threshold, (j + 1) * n_out, value) if threshold >= 0 \
                    else (j + 1) * n_out
            return value

        kept = Mux(emit, count - n_out, count)
        filled = Mux(emit, count + (n_in - n_out), count + n_in)
        rounded = Mux(emit, closed(tail - n_out), closed(tail))
        with m.If(accept):
            m.d.sync += count.eq(Mux(last_beat, rounded, filled))
            with m.If(last_beat):
                m.d.sync += [beat.eq(0), last_beat.eq(beats == 1)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), last_beat.eq(beat == beats - 2)]
        with m.Else():
            m.d.sync += count.eq(kept)
        return m
