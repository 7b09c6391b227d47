"""The trainer's mix round: two rounds equal the golden model's ``mix``, at the edges too."""

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from golden_model.qtrain.random_bits import MIX_ROUNDS, mix
from hdl.trainer.mix import mix_round


def _run(words):
    m = Module()
    x = Signal(32)
    y = Signal(32)
    value = x
    for n in range(MIX_ROUNDS):
        value = mix_round(m, value, f"round{n}")
    m.d.comb += y.eq(value)
    got = []

    async def bench(ctx):
        for word in words:
            ctx.set(x, int(word))
            got.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got, dtype=np.uint32)


def test_two_rounds_equal_the_golden_mix_on_edges_and_random_words():
    edges = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 0x9E3779B9]
    words = np.concatenate([edges, np.random.default_rng(0).integers(0, 1 << 32, 300)])
    np.testing.assert_array_equal(_run(words), mix(words))


def test_one_round_is_not_the_mix():
    m = Module()
    x, y = Signal(32), Signal(32)
    m.d.comb += y.eq(mix_round(m, x))
    got = []

    async def bench(ctx):
        ctx.set(x, 12345)
        got.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got[0] != int(mix(12345))
