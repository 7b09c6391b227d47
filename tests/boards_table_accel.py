"""An exact table-lookup accelerator for tiny QNets (test fixture for the board top).

It has the ports of the Accelerator contract and answers every image with
the QNet's own integer forward, precomputed for every possible input, so the
serial engine can be tested on its own. Only for QNets with
``n_inputs * bits <= 10``. With ``in_lanes`` it takes that many pixels a beat,
``ceil(n_inputs / in_lanes)`` beats an image, the last beat's extra lanes ignored.
"""

import itertools
import math

import numpy as np
from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class TableAccelerator(wiring.Component):
    def __init__(self, qnet, latency=3, in_lanes=1):
        self.qnet = qnet
        self.latency = latency
        self.in_lanes = in_lanes
        n, bits = qnet.input.n_inputs, qnet.input.bits
        assert n * bits <= 10
        c = qnet.n_classes
        self.out_layout = data.StructLayout({
            "cls": unsigned(max(1, math.ceil(math.log2(c)))),
            "logits": data.ArrayLayout(data.signed(qnet.widths[-1].z_bits), c)})
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(bits), in_lanes))),
            "o": Out(stream.Signature(self.out_layout)),
        })

    def table(self):
        n, bits = self.qnet.input.n_inputs, self.qnet.input.bits
        images = np.array(list(itertools.product(range(1 << bits), repeat=n)))[:, ::-1]
        logits, classes = self.qnet.forward(images)
        rows = []
        for cls, row in zip(classes, logits, strict=True):
            rows.append(self.out_layout.const({"cls": int(cls),
                                               "logits": [int(v) for v in row]}).as_value().value)
        return rows

    def elaborate(self, platform):
        m = Module()
        n, bits = self.qnet.input.n_inputs, self.qnet.input.bits
        m.submodules.rom = rom = Memory(shape=self.out_layout.size, depth=1 << (n * bits),
                                        init=self.table())
        read = rom.read_port(domain="comb")
        lanes = self.in_lanes
        beats = -(-n // lanes)
        # Beat j lands at bits [j * lanes * bits, ...): the padding lanes sit above the table
        # index, which takes the low n * bits.
        index = Signal(beats * lanes * bits)
        count = Signal(range(beats + 1))
        wait = Signal(range(self.latency + 1))
        m.d.comb += read.addr.eq(index[:n * bits])
        with m.FSM():
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    # pixel k goes to bits [k*bits, (k+1)*bits) of the table index
                    step = lanes * bits
                    m.d.sync += [index.eq(index.shift_right(step)
                                          | (self.i.payload.as_value() << (step * (beats - 1)))),
                                 count.eq(count + 1)]
                    with m.If(count == beats - 1):
                        m.d.sync += [count.eq(0), wait.eq(self.latency)]
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(wait == 0):
                    m.d.sync += [self.o.payload.eq(read.data), self.o.valid.eq(1)]
                    m.next = "OUT"
                with m.Else():
                    m.d.sync += wait.eq(wait - 1)
            with m.State("OUT"):
                with m.If(self.o.ready):
                    m.d.sync += self.o.valid.eq(0)
                    m.next = "LOAD"
        return m
