"""One iCE40 UP SPRAM block, ``SB_SPRAM256KA``, that Amaranth's simulator can run.

Amaranth's simulator has no model of a vendor primitive: an ``Instance`` of
``SB_SPRAM256KA`` is skipped and its ``DATAOUT`` reads 0. :class:`SPRAM256KA`
elaborates to that ``Instance`` for synthesis and Verilog export, and to a
behavioural model when elaborated with :data:`AMARANTH_SIMULATION` as the
platform (what :func:`hdl.simulate.simulate_accelerator` does).

The model follows Yosys's ``ice40/cells_sim.v`` cycle by cycle: 16K words
of 16 bits; at a rising ``CLOCK`` edge, with ``off = SLEEP | ~POWEROFF``:
``off`` clears ``DATAOUT`` (also at once, like the cell's asynchronous
clear) and writes nothing; else ``STANDBY`` makes ``DATAOUT`` undefined;
else with ``CHIPSELECT`` a read (``WREN`` low) registers ``mem[ADDRESS]`` into
``DATAOUT`` and a write stores the nibbles enabled by ``MASKWREN`` and makes
``DATAOUT`` undefined; without ``CHIPSELECT`` ``DATAOUT`` holds. Powering off
(``POWEROFF`` seen low at an edge after being high) makes every word
undefined. Verilog's ``x`` has no Amaranth counterpart: the model gives
:data:`UNDEFINED` for it, a value chosen to show up in a result that
wrongly depends on it. Inputs are sampled at clock edges, so an ``off``
pulse that starts and ends between two edges clears ``DATAOUT`` only while
it lasts (the cell keeps the 0 until the next edge).
"""

from amaranth.hdl import Cat, ClockSignal, Elaboratable, Instance, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from hdl.layer_plan import SPRAM_DEPTH

__all__ = ["AMARANTH_SIMULATION", "SPRAM256KA", "UNDEFINED"]

#: What the model reads where the cell's output is ``x``.
UNDEFINED = 0xDEAD
#: Power-off cycles a word's tag tells apart (a word written before the last
#: power-off reads undefined).
_EPOCH_BITS = 32


class _AmaranthSimulation:
    """The platform marker for elaborating a design for Amaranth's simulator."""

    def __repr__(self):
        return "AMARANTH_SIMULATION"


#: Pass as ``platform`` to ``Fragment.get`` to elaborate simulation models.
AMARANTH_SIMULATION = _AmaranthSimulation()


class SPRAM256KA(Elaboratable):
    """An ``SB_SPRAM256KA`` with its ports bound to values, like an ``Instance``.

    Parameters
    ----------
    address, datain, maskwren, wren, chipselect, clock, standby, sleep, poweroff
        Values for the cell's inputs (``ADDRESS`` 14 bits, ``DATAIN`` 16,
        ``MASKWREN`` 4, the rest 1). For the model ``clock`` must be a
        ``ClockSignal``: it runs in that clock domain.
    dataout : Signal(16)
        Driven with the cell's ``DATAOUT``.
    """

    def __init__(self, *, address, datain, maskwren, wren, chipselect, clock, standby, sleep,
                 poweroff, dataout):
        self.inputs = dict(ADDRESS=address, DATAIN=datain, MASKWREN=maskwren, WREN=wren,
                           CHIPSELECT=chipselect, CLOCK=clock, STANDBY=standby, SLEEP=sleep,
                           POWEROFF=poweroff)
        self.dataout = dataout

    def elaborate(self, platform):
        if platform is AMARANTH_SIMULATION:
            return self._model()
        # The Instance itself, so the netlist keeps the cell where it was.
        return Instance("SB_SPRAM256KA", o_DATAOUT=self.dataout,
                        **{f"i_{name}": value for name, value in self.inputs.items()})

    def _model(self):
        clock = self.inputs["CLOCK"]
        if not isinstance(clock, ClockSignal):
            raise TypeError(f"SPRAM256KA: the model needs a ClockSignal as clock (it runs in "
                            f"that domain), not {clock!r}")
        m = Module()
        domain = clock.domain
        sync = m.d[domain]
        ports = {}
        for name, width in (("ADDRESS", 14), ("DATAIN", 16), ("MASKWREN", 4), ("WREN", 1),
                            ("CHIPSELECT", 1), ("STANDBY", 1), ("SLEEP", 1), ("POWEROFF", 1)):
            ports[name] = Signal(width, name=name.lower())
            m.d.comb += ports[name].eq(self.inputs[name])
        off = ports["SLEEP"] | ~ports["POWEROFF"]

        # Each word carries the power-on epoch it was written in; an older epoch
        # means a power-off came since, and the word is undefined.
        # The cell has no reset: nothing here is cleared by the domain's reset.
        epoch = Signal(_EPOCH_BITS, init=1, reset_less=True)
        was_on = Signal(init=1, reset_less=True)
        sync += was_on.eq(ports["POWEROFF"])
        with m.If(was_on & ~ports["POWEROFF"]):
            sync += epoch.eq(epoch + 1)
        m.submodules.words = words = Memory(shape=unsigned(16), depth=SPRAM_DEPTH, init=[])
        m.submodules.epochs = epochs = Memory(shape=unsigned(_EPOCH_BITS), depth=SPRAM_DEPTH,
                                              init=[])
        word_read = words.read_port(domain="comb")
        epoch_read = epochs.read_port(domain="comb")
        word_write = words.write_port(domain=domain, granularity=4)
        epoch_write = epochs.write_port(domain=domain)
        current = Signal()
        m.d.comb += [
            word_read.addr.eq(ports["ADDRESS"]),
            epoch_read.addr.eq(ports["ADDRESS"]),
            current.eq(epoch_read.data == epoch),
        ]

        stored = Mux(current, word_read.data, UNDEFINED)
        write = (~off & ~ports["STANDBY"] & ports["CHIPSELECT"] & ports["WREN"]
                 & ports["MASKWREN"].any())
        # A write into an undefined word defines all of it: the nibbles not
        # written take their undefined value, not what the stale word held.
        nibbles = [Mux(ports["MASKWREN"][k], ports["DATAIN"][4 * k:4 * k + 4],
                       stored[4 * k:4 * k + 4]) for k in range(4)]
        m.d.comb += [
            word_write.addr.eq(ports["ADDRESS"]),
            epoch_write.addr.eq(ports["ADDRESS"]),
            word_write.data.eq(Mux(current, ports["DATAIN"], Cat(*nibbles))),
            word_write.en.eq(Mux(write, Mux(current, ports["MASKWREN"], 0b1111), 0)),
            epoch_write.data.eq(epoch),
            epoch_write.en.eq(write),
        ]

        registered = Signal(16, init=UNDEFINED, reset_less=True)
        with m.If(off):
            sync += registered.eq(0)
        with m.Elif(ports["STANDBY"]):
            sync += registered.eq(UNDEFINED)
        with m.Elif(ports["CHIPSELECT"]):
            with m.If(ports["WREN"]):            # also with no nibble enabled
                sync += registered.eq(UNDEFINED)
            with m.Else():
                sync += registered.eq(stored)
        m.d.comb += self.dataout.eq(Mux(off, 0, registered))
        return m
