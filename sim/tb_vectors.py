"""cocotb testbench that applies input vectors and records outputs, cycle by cycle.

Generic on purpose: :mod:`sim.primitives` packs the vectors and checks the
samples against NumPy. ``MULFREE_TB_VECTORS`` names a JSON file with
``inputs`` (port -> list of integers, one per cycle), ``outputs`` (port
names), ``cycles`` and ``clocked``. The test writes ``samples.json`` (port ->
list of integers, one per cycle) into its working directory.

Inputs change at the falling edge and outputs are sampled once everything
has settled (``ReadOnly``): a combinational output shows cycle ``k``'s vector
in sample ``k``, a registered one with latency ``L`` in sample ``k + L``.
"""

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, Timer


def _unsigned(value):
    # One-bit ports read back as Logic, wider ones as LogicArray.
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


@cocotb.test()
async def apply_vectors(dut):
    """Drive every vector, record every output, one vector per cycle."""
    spec = json.loads(Path(os.environ["MULFREE_TB_VECTORS"]).read_text())
    inputs = {name: getattr(dut, name) for name in spec["inputs"]}
    outputs = {name: getattr(dut, name) for name in spec["outputs"]}
    samples = {name: [] for name in spec["outputs"]}
    clocked = spec["clocked"]
    if clocked:
        Clock(dut.clk, 10, "ns", impl="gpi").start(start_high=False)
        dut.rst.value = 1
        for handle in inputs.values():
            handle.value = 0
        await ClockCycles(dut.clk, 2, rising=False)
        dut.rst.value = 0
    for cycle in range(spec["cycles"]):
        if clocked:
            await FallingEdge(dut.clk)
        else:
            await Timer(10, "ns")
        for name, handle in inputs.items():
            values = spec["inputs"][name]
            # Past the end, hold zero: no primitive keeps state that matters.
            handle.value = values[cycle] if cycle < len(values) else 0
        await ReadOnly()
        for name, handle in outputs.items():
            samples[name].append(_unsigned(handle.value))
    Path("samples.json").write_text(json.dumps(samples))
