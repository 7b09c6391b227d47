"""A layer's weight memory that is written at run time instead of preloaded.

The iCE40 UP5K's four SPRAMs (``SB_SPRAM256KA``, 16K x 16 bits each) hold
eight times the block RAM's bits, but a bitstream cannot initialise them.
:class:`LoadableWeightMemory` stores a layer's weight words in such blocks,
``weight_slices`` of them side by side (slice ``j`` holds bits
``[16 j, 16 j + 16)`` of every word) and ``spram_banks`` stacked in depth, and
takes one 16-bit slice per write. With ``weight_store="ram"`` the same
interface is a plain Amaranth memory, for simulation and for devices
without SPRAM.

Reads behave like a synchronous memory read port: ``rdata`` is the word at
the previous cycle's ``raddr``. A write occupies the single-port SPRAM for
its cycle, so the MVU never reads while the weights are being loaded (it
waits for ``weights_ready``).
"""

from amaranth.hdl import Cat, ClockSignal, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.layer_plan import SLICE_BITS, SPRAM_DEPTH
from hdl.spram import SPRAM256KA
from hdl.weight_memory_plan import estimate

__all__ = ["LoadableWeightMemory", "estimate"]


class LoadableWeightMemory(wiring.Component):
    """Weight words of one layer, read by the MVU and written slice by slice.

    Parameters
    ----------
    plan : LayerPlan
        With ``weight_store`` ``"ram"`` or ``"spram"``.
    word_width : int
        Width of ``waddr`` (the load map's word field, which may exceed the
        layer's depth: writes past the last word are ignored).

    Members
    -------
    raddr : In(range(depth))
    rdata : Out(weight_word_bits)
    wen : In(1)
    wslice : In(range(weight_slices))
    waddr : In(word_width)
    wdata : In(16)
    """

    def __init__(self, plan, word_width):
        if not plan.loadable:
            raise ValueError(f"layer {plan.index}: weight_store {plan.weight_store!r} "
                             "is not loadable")
        self._plan = plan
        super().__init__({
            "raddr": In(range(plan.weight_depth)),
            "rdata": Out(plan.weight_word_bits),
            "wen": In(1),
            "wslice": In(range(plan.weight_slices)),
            "waddr": In(unsigned(word_width)),
            "wdata": In(SLICE_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        plan = self._plan
        slices, depth = plan.weight_slices, plan.weight_depth
        # Past the end of the layer (a word field wider than the depth) nothing is written.
        in_range = self.waddr < depth if 2 ** len(self.waddr) > depth else 1
        write = Signal()
        m.d.comb += write.eq(self.wen & in_range)
        if plan.weight_store == "ram":
            m.submodules.storage = storage = Memory(
                shape=unsigned(slices * SLICE_BITS), depth=depth, init=[])
            port = storage.write_port(granularity=SLICE_BITS)
            read = storage.read_port()
            m.d.comb += [
                port.addr.eq(self.waddr),
                port.data.eq(Cat(*([self.wdata] * slices))),
                port.en.eq(Mux(write, 1 << self.wslice, 0)),
                read.addr.eq(self.raddr),
                self.rdata.eq(read.data[:plan.weight_word_bits]),
            ]
            return m

        banks = plan.spram_banks
        bank_shift = SPRAM_DEPTH.bit_length() - 1   # address bits inside one block
        # One address bus for all blocks: the write address while loading, else the read.
        address = Signal(range(banks * SPRAM_DEPTH))
        m.d.comb += address.eq(Mux(self.wen, self.waddr, self.raddr))
        read_bank = Signal(range(max(2, banks)))
        if banks > 1:
            # The bank whose data comes out next cycle.
            m.d.sync += read_bank.eq(self.raddr >> bank_shift)
        outputs = []
        for b in range(banks):
            bank_out = []
            for j in range(slices):
                out = Signal(SLICE_BITS, name=f"spram_b{b}_s{j}_out")
                select = write & (self.wslice == j)
                if banks > 1:
                    select = select & ((self.waddr >> bank_shift) == b)
                m.submodules[f"spram_b{b}_s{j}"] = SPRAM256KA(
                    address=address[:bank_shift],
                    datain=self.wdata,
                    maskwren=0b1111,
                    wren=select,
                    chipselect=1,
                    clock=ClockSignal(),
                    standby=0,
                    sleep=0,
                    poweroff=1,  # active low: 1 keeps the block powered
                    dataout=out)
                bank_out.append(out)
            outputs.append(Cat(*bank_out))
        data = outputs[0]
        for b in range(1, banks):
            data = Mux(read_bank == b, outputs[b], data)
        m.d.comb += self.rdata.eq(data[:plan.weight_word_bits])
        return m
