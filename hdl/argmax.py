"""Argmax collector: the logits of one image in, class plus logits out.

The last MVU hands on ``lanes`` logits per beat (its PE); the collector keeps
them in registers and a running maximum. A later logit replaces the running
maximum only if strictly greater, so ties go to the lowest index, as in
``numpy.argmax``.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ArgmaxCollector", "output_layout", "class_width", "reference", "estimate"]


def class_width(n_classes):
    """Width of the class index: ``max(1, ceil(log2(n_classes)))``."""
    return max(1, (int(n_classes) - 1).bit_length())


def output_layout(n_classes, logit_width):
    """Payload of the accelerator's output stream."""
    return data.StructLayout({
        "cls": unsigned(class_width(n_classes)),
        "logits": data.ArrayLayout(signed(logit_width), n_classes),
    })


def reference(logits):
    """NumPy behaviour: ``argmax`` over the last axis (lowest index on ties)."""
    return np.argmax(np.asarray(logits), axis=-1)


def estimate(n_classes, lanes, logit_width):
    """Resources and cycles per image: one beat per cycle, one cycle to hand on."""
    beats = -(-n_classes // lanes)
    return {
        "lut": lanes * (2 * logit_width + class_width(n_classes)) + n_classes,
        "ff": n_classes * logit_width + logit_width + class_width(n_classes) + 8,
        "cycles": beats + 1,
    }


class ArgmaxCollector(wiring.Component):
    """Collect ``n_classes`` logits, ``lanes`` per beat, and emit the argmax.

    Parameters
    ----------
    n_classes : int
    lanes : int
        Logits per input beat; the padding lanes of the last beat are ignored.
    logit_width : int

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(logit_width), lanes)))
    o : Out(stream.Signature(output_layout(n_classes, logit_width)))
    """

    def __init__(self, n_classes, lanes, logit_width):
        self._n_classes = int(n_classes)
        self._lanes = int(lanes)
        self._logit_width = int(logit_width)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(self._logit_width), self._lanes))),
            "o": Out(stream.Signature(output_layout(self._n_classes, self._logit_width))),
        })

    def __repr__(self):
        return f"ArgmaxCollector({self._n_classes}, {self._lanes}, {self._logit_width})"

    def elaborate(self, platform):
        m = Module()
        n, lanes = self._n_classes, self._lanes
        beats = -(-n // lanes)
        beat = Signal(range(beats))
        best = Signal(signed(self._logit_width))
        best_index = Signal(class_width(n))
        done = Signal()  # the output holds a complete image
        logits = Signal(data.ArrayLayout(signed(self._logit_width), n))

        m.d.comb += self.i.ready.eq(~done)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += done.eq(0)
        m.d.comb += self.o.valid.eq(done)

        # Running maximum across this beat's lanes, lowest index first.
        value, index = best, best_index
        for lane in range(lanes):
            logit = self.i.payload[lane]
            position = beat * lanes + lane
            first = (beat == 0) if lane == 0 else 0
            take = (position < n) & (first | (logit > value))
            value = Mux(take, logit, value)
            index = Mux(take, position, index)

        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [best.eq(value), best_index.eq(index)]
            for b in range(beats):
                with m.If(beat == b):
                    for lane in range(lanes):
                        if b * lanes + lane < n:
                            m.d.sync += logits[b * lanes + lane].eq(
                                self.i.payload[lane])
            with m.If(beat == beats - 1):
                m.d.sync += [beat.eq(0), done.eq(1)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        m.d.comb += [self.o.payload.cls.eq(best_index), self.o.payload.logits.eq(logits)]
        return m
