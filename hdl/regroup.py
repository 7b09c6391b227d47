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

__all__ = ["Regroup", "reference", "estimate"]


def reference(vectors, out_lanes):
    """NumPy behaviour: each vector zero-padded and cut into words of ``out_lanes``."""
    vectors = np.asarray(vectors, dtype=np.int64)
    length = vectors.shape[-1]
    words = -(-length // out_lanes)
    padded = np.zeros(vectors.shape[:-1] + (words * out_lanes,), dtype=np.int64)
    padded[..., :length] = vectors
    return padded.reshape(vectors.shape[:-1] + (words, out_lanes))


def is_passthrough(in_lanes, out_lanes, length):
    return in_lanes == out_lanes and length % out_lanes == 0


def estimate(element_width, in_lanes, out_lanes, length):
    """Resources and cycles per vector (one input beat per cycle at best)."""
    beats_in = -(-length // in_lanes)
    words_out = -(-length // out_lanes)
    if is_passthrough(in_lanes, out_lanes, length):
        return {"lut": 0, "ff": 0, "cycles": beats_in}
    slots = -(-(in_lanes + out_lanes) // out_lanes) * out_lanes
    return {
        "lut": slots * element_width * (1 + in_lanes // 2) + 16,
        "ff": slots * element_width + 16,
        "cycles": max(beats_in, words_out),
    }


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
        stage = [Signal(self._element_width, name=f"slot{p}") for p in range(slots)]
        count = Signal(range(slots + 1))
        received = Signal(range(length + 1))

        emit = Signal()
        accept = Signal()
        kept = Signal(range(slots + 1))  # fill level after this cycle's output word
        take = Signal(range(n_in + 1))  # elements of this beat that belong to the vector
        last_beat = Signal()
        filled = Signal(range(slots + 1))

        m.d.comb += [
            self.o.valid.eq(count >= n_out),
            emit.eq(self.o.valid & self.o.ready),
            kept.eq(Mux(emit, count - n_out, count)),
            self.i.ready.eq(kept <= n_out),
            accept.eq(self.i.valid & self.i.ready),
            last_beat.eq(received + n_in >= length),
            take.eq(Mux(last_beat, length - received, n_in)),
            filled.eq(kept + take),
        ]
        for k in range(n_out):
            m.d.comb += self.o.payload[k].eq(stage[k])

        for p in range(slots):
            shifted = stage[p + n_out] if p + n_out < slots else 0
            nxt = Signal(self._element_width, name=f"slot{p}_next")
            m.d.comb += nxt.eq(Mux(emit, shifted, stage[p]))
            with m.If(accept):
                for k in range(min(n_in, p + 1)):
                    with m.If((kept + k == p) & (k < take)):
                        m.d.comb += nxt.eq(self.i.payload[k])
            m.d.sync += stage[p].eq(nxt)

        # A flat case table (a chain of muxes nests too deep for the simulator).
        rounded = Signal(range(slots + 1))
        if n_out == 1:
            m.d.comb += rounded.eq(filled)
        else:
            with m.Switch(filled):
                for level in range(slots + 1):
                    with m.Case(level):
                        m.d.comb += rounded.eq(-(-level // n_out) * n_out)
        with m.If(accept):
            m.d.sync += [
                count.eq(Mux(last_beat, rounded, filled)),
                received.eq(Mux(last_beat, 0, received + n_in)),
            ]
        with m.Else():
            m.d.sync += count.eq(kept)
        return m
