"""cocotb testbench of the hardware trainer ``mulfree_trainer`` (see :mod:`sim.trainer_check`).

The host writes a JSON config and points ``MULFREE_TB_CONFIG`` at it: the
memories to read back, and segments. Each segment is run after a reset: load
the state (memory words and step) through the state port, stream its samples
(pixels then label, with random valid gaps and garbage payloads while not
valid; random ready gaps on the class output), wait until idle, read every
memory word back. ``result_trainer.json`` gets, per segment, the words, the
step, the classes and the cycle of every class transfer; the host compares.
"""

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

CLOCK_NS = 10


def _config():
    path = os.environ.get("MULFREE_TB_CONFIG")
    if not path:
        raise RuntimeError("MULFREE_TB_CONFIG is not set (run through sim.trainer_check)")
    return json.loads(Path(path).read_text())


async def _reset(dut):
    await FallingEdge(dut.clk)
    dut.evaluate.value = 0             # training samples only (Icarus leaves inputs Z)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2, rising=False)
    dut.rst.value = 0


async def _load(dut, segment):
    for sel, words in segment["words"].items():
        for address, word in enumerate(words):
            await FallingEdge(dut.clk)
            dut.state_sel.value = int(sel)
            dut.state_addr.value = address
            dut.state_wdata.value = int(word, 16)
            dut.state_we.value = 1
    await FallingEdge(dut.clk)
    dut.state_we.value = 0
    dut.step_wdata.value = segment["step"]
    dut.step_we.value = 1
    await FallingEdge(dut.clk)
    dut.step_we.value = 0


async def _send(dut, beats, rng, gap):
    garbage_bits = len(dut.i__payload)
    for beat in beats:
        await FallingEdge(dut.clk)
        while gap and rng.random() < gap:
            dut.i__valid.value = 0
            dut.i__payload.value = rng.getrandbits(garbage_bits)
            await FallingEdge(dut.clk)
        dut.i__valid.value = 1
        dut.i__payload.value = beat
        await ReadOnly()
        while not dut.i__ready.value:
            await FallingEdge(dut.clk)
            await ReadOnly()
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0


async def _receive(dut, rng, gap, cycle):
    await ReadOnly()
    if not dut.o__valid.value:
        await RisingEdge(dut.o__valid)
    while True:
        await FallingEdge(dut.clk)
        ready = not (gap and rng.random() < gap)
        dut.o__ready.value = int(ready)
        await ReadOnly()
        if ready and dut.o__valid.value:
            got = (int(dut.o__payload.value.to_unsigned()), cycle())
            break
    await FallingEdge(dut.clk)
    dut.o__ready.value = 0
    await ReadOnly()
    if not dut.idle.value:
        await RisingEdge(dut.idle)
    return got


async def _read_back(dut, memories):
    words = {}
    for sel, depth in memories.items():
        words[sel] = []
        for address in range(depth):
            await FallingEdge(dut.clk)
            dut.state_sel.value = int(sel)
            dut.state_addr.value = address
            await RisingEdge(dut.clk)
            await ReadOnly()
            words[sel].append(f"{int(dut.state_rdata.value.to_unsigned()):x}")
    await FallingEdge(dut.clk)
    return words, int(dut.step.value.to_unsigned())


@cocotb.test()
async def train_segments(dut):
    """Every segment: reset, load, train, read back (the host compares)."""
    config = _config()
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    from cocotb.utils import get_sim_time

    def cycle():
        return int(get_sim_time(unit="ns")) // CLOCK_NS

    for name in ("i__valid", "o__ready", "state_we", "step_we", "rst"):
        getattr(dut, name).value = 0
    results = []
    for segment in config["segments"]:
        rng = random.Random(segment["seed"])
        await _reset(dut)
        await _load(dut, segment)
        classes, cycles = [], []
        for image, label in zip(segment["images"], segment["labels"], strict=True):
            await _send(dut, list(image) + [label], rng, segment["in_gap"])
            got, when = await _receive(dut, rng, segment["out_gap"], cycle)
            classes.append(got)
            cycles.append(when)
        words, step = await _read_back(dut, config["memories"])
        results.append({"words": words, "step": step, "classes": classes,
                        "class_cycles": cycles})
    Path("result_trainer.json").write_text(json.dumps(results))
