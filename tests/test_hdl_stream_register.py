import numpy as np
import pytest
from amaranth.hdl import unsigned
from amaranth.sim import Simulator
from hdl_nets import run_stream

from hdl.stream_register import StreamRegister, estimate


@pytest.mark.parametrize("seed", range(4))
def test_no_beat_lost_or_duplicated_under_random_gaps(seed):
    beats = [int(v) for v in np.random.default_rng(seed).integers(0, 256, size=60)]
    got = run_stream(StreamRegister(unsigned(8)), beats, len(beats), seed=seed,
                     in_gap=0.4, out_gap=0.4)
    assert got == beats


def test_full_rate_one_cycle_later():
    dut = StreamRegister(unsigned(8))
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for cycle in range(8):
            ctx.set(dut.i.payload, cycle + 1)
            assert ctx.get(dut.i.ready)  # never stalls a full-rate stream
            await ctx.tick()
            seen.append(ctx.get(dut.o.payload) if ctx.get(dut.o.valid) else None)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # The beat offered in cycle k is on the output in cycle k + 1.
    assert seen == list(range(1, 9))
    assert estimate(8) == {"lut": 2, "ff": 9, "cycles": 1}
