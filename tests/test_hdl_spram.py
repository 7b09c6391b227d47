"""The SB_SPRAM256KA model for Amaranth's simulator against Yosys's cell model."""

import subprocess

import numpy as np
import pytest
from amaranth.hdl import ClockSignal, Elaboratable, Fragment, Instance, Module, Signal
from amaranth.sim import Simulator

from hdl.spram import AMARANTH_SIMULATION, SPRAM256KA, UNDEFINED
from sim.vendor_models import spram_model

#: (name, width) of the cell's inputs other than CLOCK, in testbench order.
INPUTS = (("ADDRESS", 14), ("DATAIN", 16), ("MASKWREN", 4), ("WREN", 1), ("CHIPSELECT", 1),
          ("STANDBY", 1), ("SLEEP", 1), ("POWEROFF", 1))


class _Bench(Elaboratable):
    def __init__(self):
        self.ports = {name: Signal(width, name=name.lower()) for name, width in INPUTS}
        self.dataout = Signal(16)

    def elaborate(self, platform):
        m = Module()
        m.submodules.spram = SPRAM256KA(
            **{name.lower(): port for name, port in self.ports.items()},
            clock=ClockSignal(), dataout=self.dataout)
        return m


def run_model(vectors):
    """DATAOUT after each vector is applied (before the edge) and after the edge."""
    bench = _Bench()
    sim = Simulator(Fragment.get(bench, platform=AMARANTH_SIMULATION))
    sim.add_clock(1e-8)
    seen = []

    async def drive(ctx):
        for vector in vectors:
            for name, _ in INPUTS:
                ctx.set(bench.ports[name], vector[name])
            before = ctx.get(bench.dataout)
            await ctx.tick()
            seen.append((before, ctx.get(bench.dataout)))

    sim.add_testbench(drive)
    sim.run()
    return seen


def run_icarus(vectors, tmp_path):
    """The same with Yosys's cells_sim.v model under Icarus: bit strings with x."""
    lines = []
    for vector in vectors:
        lines.append(" ".join(f"{name.lower()} = {vector[name]};" for name, _ in INPUTS))
        lines.append('#5 $display("%b", q); clk = 1; #1 $display("%b", q); #4 clk = 0;')
    wires = "\n".join(f"reg [{width - 1}:0] {name.lower()};" for name, width in INPUTS)
    connections = ", ".join(f".{name}({name.lower()})" for name, _ in INPUTS)
    bench = (f"`timescale 1ns/1ps\nmodule tb;\n{wires}\nreg clk = 0;\nwire [15:0] q;\n"
             f"SB_SPRAM256KA dut({connections}, .CLOCK(clk), .DATAOUT(q));\n"
             "initial begin\n" + "\n".join(lines) + "\n$finish;\nend\nendmodule\n")
    (tmp_path / "tb.v").write_text(bench)
    (tmp_path / "cell.v").write_text(spram_model())
    subprocess.run(["iverilog", "-o", str(tmp_path / "tb.vvp"), str(tmp_path / "tb.v"),
                    str(tmp_path / "cell.v")], check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True,
                         capture_output=True, text=True).stdout.split()
    return list(zip(out[0::2], out[1::2], strict=True))


def _vector(**fields):
    vector = dict(ADDRESS=0, DATAIN=0, MASKWREN=0b1111, WREN=0, CHIPSELECT=1, STANDBY=0,
                  SLEEP=0, POWEROFF=1)
    vector.update(fields)
    return vector


def random_vectors(seed, count):
    """Mostly reads and writes to a few addresses, with every control pin exercised."""
    rng = np.random.default_rng(seed)
    vectors = []
    for _ in range(count):
        vectors.append(_vector(
            ADDRESS=int(rng.choice([0, 1, 2, 5, 16383])), DATAIN=int(rng.integers(1 << 16)),
            MASKWREN=int(rng.integers(16)), WREN=int(rng.random() < 0.4),
            CHIPSELECT=int(rng.random() < 0.85), STANDBY=int(rng.random() < 0.05),
            SLEEP=int(rng.random() < 0.05), POWEROFF=int(rng.random() > 0.03)))
    return vectors


def _matches(model_value, verilog_bits):
    """Every defined bit equal; an ``x`` bit must be the model's :data:`UNDEFINED` bit."""
    for bit, char in enumerate(reversed(verilog_bits)):
        expected = (UNDEFINED >> bit & 1) if char in "xX" else int(char)
        if (model_value >> bit & 1) != expected:
            return False
    return True


@pytest.mark.needs_icarus
def test_model_equals_yosys_cell_model_cycle_by_cycle(tmp_path):
    vectors = random_vectors(7, 600)
    model = run_model(vectors)
    verilog = run_icarus(vectors, tmp_path)
    for cycle, (ours, theirs) in enumerate(zip(model, verilog, strict=True)):
        for when, value, bits in zip(("before", "after"), ours, theirs, strict=True):
            assert _matches(value, bits), (
                f"cycle {cycle} {when} the edge, inputs {vectors[cycle]}: model "
                f"{value:016b}, cells_sim.v {bits}")
    # The stimulus reached every case: defined reads, undefined words, zeros while off.
    flat = [bits for pair in verilog for bits in pair]
    assert any("x" in bits for bits in flat) and "0" * 16 in flat
    assert sum("x" not in bits and bits != "0" * 16 for bits in flat) > 100


def test_nibble_masks_chipselect_sleep_and_power_off():
    seen = run_model([
        _vector(ADDRESS=3, DATAIN=0x1234, WREN=1),                       # write all
        _vector(ADDRESS=3, DATAIN=0xABCD, WREN=1, MASKWREN=0b0101),      # nibbles 0, 2
        _vector(ADDRESS=3),                                              # read
        _vector(ADDRESS=4, CHIPSELECT=0),                                # holds
        _vector(ADDRESS=3, SLEEP=1),                                     # off: 0 at once
        _vector(ADDRESS=3),                                              # read again
        _vector(ADDRESS=3, POWEROFF=0),                                  # power off
        _vector(ADDRESS=3),                                              # contents gone
        _vector(ADDRESS=3, DATAIN=0x00F0, WREN=1, MASKWREN=0b0010),      # one nibble
        _vector(ADDRESS=3),
        _vector(ADDRESS=3, STANDBY=1),
    ])
    after = [a for _, a in seen]
    assert after[0] == UNDEFINED                   # a write leaves DATAOUT undefined
    assert after[2] == 0x1B3D and after[3] == 0x1B3D
    assert seen[4] == (0, 0) and after[5] == 0x1B3D
    assert after[6] == 0 and after[7] == UNDEFINED
    assert after[9] == (UNDEFINED & 0xFF0F) | 0x00F0
    assert after[10] == UNDEFINED


def test_outside_amaranth_simulation_it_is_the_vendor_cell():
    out = Signal(16)
    cell = SPRAM256KA(address=0, datain=0, maskwren=0b1111, wren=0, chipselect=1,
                      clock=ClockSignal(), standby=0, sleep=0, poweroff=1, dataout=out)
    fragment = Fragment.get(cell, platform=None)
    assert isinstance(fragment, Instance) and fragment.type == "SB_SPRAM256KA"
    clocked_by_a_signal = SPRAM256KA(address=0, datain=0, maskwren=0, wren=0, chipselect=1,
                                     clock=Signal(), standby=0, sleep=0, poweroff=1,
                                     dataout=out)
    with pytest.raises(TypeError, match="needs a ClockSignal"):
        Fragment.get(clocked_by_a_signal, platform=AMARANTH_SIMULATION)
