import numpy as np
import pytest
from hdl_nets import run_stream
from hypothesis import given, settings
from hypothesis import strategies as st

from hdl.regroup import Regroup, estimate, reference


def _run(width, in_lanes, out_lanes, length, vectors, seed=0, gaps=0.3):
    dut = Regroup(width, in_lanes, out_lanes, length)
    beats = []
    for vector in vectors:
        count = -(-length // in_lanes)
        padded = np.full(count * in_lanes, (1 << width) - 1)  # padding lanes hold junk
        padded[:length] = vector
        beats += [[int(v) for v in beat] for beat in padded.reshape(count, in_lanes)]
    words = -(-length // out_lanes) * len(vectors)
    got = run_stream(dut, beats, words, seed=seed, in_gap=gaps, out_gap=gaps)
    assert all(g is not None for g in got), "more words than expected"
    return np.array([[int(w[k]) for k in range(out_lanes)] for w in got])


@settings(max_examples=15, deadline=None)
@given(in_lanes=st.integers(1, 5), out_lanes=st.integers(1, 5), length=st.integers(1, 13),
       seed=st.integers(0, 2**16))
def test_regroup_matches_reference_random(in_lanes, out_lanes, length, seed):
    rng = np.random.default_rng(seed)
    vectors = rng.integers(1, 16, size=(3, length))
    got = _run(4, in_lanes, out_lanes, length, vectors, seed)
    want = reference(vectors, out_lanes).reshape(-1, out_lanes)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("in_lanes,out_lanes,length", [(4, 4, 8), (1, 1, 3), (3, 3, 7)])
def test_equal_widths_full_rate_and_zero_padding(in_lanes, out_lanes, length):
    vectors = np.arange(1, 2 * length + 1).reshape(2, length) % 15 + 1
    got = _run(4, in_lanes, out_lanes, length, vectors, gaps=0.0)
    assert np.array_equal(got, reference(vectors, out_lanes).reshape(-1, out_lanes))


def test_estimate_passthrough_is_free():
    assert estimate(5, 4, 4, 64)["lut"] == 0
    assert estimate(5, 1, 8, 64)["cycles"] == 64
    assert estimate(5, 8, 1, 64)["cycles"] == 64


@pytest.mark.parametrize("in_lanes,out_lanes,length", [(3, 4, 64), (5, 3, 6), (1, 7, 20),
                                                       (8, 3, 17)])
def test_one_beat_per_cycle_when_the_output_keeps_up(in_lanes, out_lanes, length):
    # At full rate on both sides the input never stalls as long as the words can leave:
    # the converter takes max(beats, words) cycles per vector, as its estimate says.
    from amaranth.sim import Simulator
    dut = Regroup(4, in_lanes, out_lanes, length)
    vectors = 3
    beats = -(-length // in_lanes) * vectors
    taken = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        cycle = 0
        while len(taken) < beats and cycle < 10 * beats:
            if ctx.get(dut.i.ready):
                taken.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    per_vector = estimate(4, in_lanes, out_lanes, length)["cycles"]
    assert taken[-1] + 1 <= per_vector * vectors + 1, (taken, per_vector)
