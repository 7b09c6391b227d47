"""Argmax collector: the logits of one image in, class plus logits out.

The last MVU hands on ``lanes`` logits per beat (its PE); the collector keeps
them in registers and a running maximum. A later logit replaces the running
maximum only if strictly greater, so ties go to the lowest index, as in
``numpy.argmax``.

The maximum is found in two registered steps: first the beat's own maximum,
by a balanced tree over its lanes, then the merge of that with the running
maximum. A chain of one comparison per lane in a single cycle was a
critical path of the ECP5-85F build once the last layer had PE >= 2.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.argmax_plan import class_width, estimate

__all__ = ["ArgmaxCollector", "output_layout", "class_width", "reference", "estimate"]


def output_layout(n_classes, logit_width):
    """Payload of the accelerator's output stream."""
    return data.StructLayout({
        "cls": unsigned(class_width(n_classes)),
        "logits": data.ArrayLayout(signed(logit_width), n_classes),
    })


def reference(logits):
    """NumPy behaviour: ``argmax`` over the last axis (lowest index on ties)."""
    return np.argmax(np.asarray(logits), axis=-1)


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
        index_width = class_width(n)
        beat = Signal(range(beats))
        # The first class of this beat, beat * lanes: wiring when lanes is a power of
        # two; otherwise a running sum, since the product would be a multiplier.
        power_of_two = lanes & (lanes - 1) == 0
        first_class = (beat << (lanes.bit_length() - 1) if power_of_two
                       else Signal(range(beats * lanes)))
        logits = Signal(data.ArrayLayout(signed(self._logit_width), n))
        accept = Signal()

        # Step 1, on accepting a beat: its own maximum over the real lanes, by a balanced
        # tree. A pair keeps its left (lower-index) candidate unless the right one is
        # strictly greater, so ties still go to the lowest index.
        nodes = []
        for lane in range(lanes):
            position = first_class + lane
            nodes.append((self.i.payload[lane], position, position < n))
        while len(nodes) > 1:
            merged = []
            for pair in range(0, len(nodes) - 1, 2):
                (va, ia, ka), (vb, ib, kb) = nodes[pair], nodes[pair + 1]
                right = kb & (~ka | (vb > va))
                merged.append((Mux(right, vb, va), Mux(right, ib, ia), ka | kb))
            if len(nodes) % 2:
                merged.append(nodes[-1])
            nodes = merged
        ((beat_value, beat_index, _),) = nodes
        step = Signal(data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "value": signed(self._logit_width),
            "index": index_width}))
        m.d.sync += step.valid.eq(accept)
        with m.If(accept):
            m.d.sync += [step.first.eq(beat == 0), step.last.eq(beat == beats - 1),
                         step.value.eq(beat_value), step.index.eq(beat_index)]

        # Step 2: merge with the running maximum; a later beat wins only if greater.
        best = Signal(signed(self._logit_width))
        best_index = Signal(index_width)
        done = Signal()  # the output holds a complete image
        with m.If(step.valid & (step.first | (step.value > best))):
            m.d.sync += [best.eq(step.value), best_index.eq(step.index)]
        with m.If(step.valid & step.last):
            m.d.sync += done.eq(1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += done.eq(0)

        # No beat of the next image while this one's last beat is still merging or its
        # result waits: the logits registers hold the image being handed on.
        m.d.comb += [
            self.i.ready.eq(~done & ~(step.valid & step.last)),
            accept.eq(self.i.valid & self.i.ready),
            self.o.valid.eq(done),
        ]
        with m.If(accept):
            for b in range(beats):
                with m.If(beat == b):
                    for lane in range(lanes):
                        if b * lanes + lane < n:
                            m.d.sync += logits[b * lanes + lane].eq(self.i.payload[lane])
            with m.If(beat == beats - 1):
                m.d.sync += beat.eq(0)
                if not power_of_two:
                    m.d.sync += first_class.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
                if not power_of_two:
                    m.d.sync += first_class.eq(first_class + lanes)
        m.d.comb += [self.o.payload.cls.eq(best_index), self.o.payload.logits.eq(logits)]
        return m
