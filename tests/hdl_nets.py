"""Shared helpers of the hdl tests: hand-built QNets, digits images, small simulators."""

import numpy as np
from amaranth.hdl import ClockDomain, Elaboratable, Fragment, Module
from amaranth.sim import Simulator

from golden_model.qnet import InputSpec, QLayer, QNet


def random_qnet(seed, sizes=(64, 16, 10), bits=5, activations=None, pow2=None, modes=None,
                out_bits=None, e_max=None, shifts=(0, 5), bias=20, thresholds=4):
    """A QNet with random ternary/binary weights and per-neuron parameters.

    ``activations``, ``pow2``, ``modes``, ``out_bits``, ``e_max`` give one entry per
    hidden layer / per layer (modes); the output layer is always linear.
    """
    rng = np.random.default_rng(seed)
    n_hidden = len(sizes) - 2
    activations = activations or ["relu"] * n_hidden
    pow2 = pow2 or [False] * n_hidden
    modes = modes or ["ternary"] * (n_hidden + 1)
    out_bits = out_bits or [4] * n_hidden
    e_max = e_max or [5] * n_hidden
    layers = []
    for k in range(n_hidden + 1):
        n, m = sizes[k], sizes[k + 1]
        last = k == n_hidden
        low = -1 if modes[k] == "ternary" else 0
        w = rng.integers(low, 2, size=(m, n))
        if modes[k] == "binary":
            w = 2 * w - 1
        act = "linear" if last else activations[k]
        threshold = (rng.integers(0, thresholds + 1, m) if act in ("trec", "tlin")
                     else np.zeros(m, dtype=np.int64))
        layers.append(QLayer(
            weights=w, bias=rng.integers(-bias, bias + 1, m),
            shift=rng.integers(shifts[0], shifts[1] + 1, m), weight_mode=modes[k],
            activation=act, threshold=threshold,
            out_bits=8 if last else out_bits[k], pow2=False if last else pow2[k],
            e_max=7 if last else e_max[k]))
    shape = (8, 8) if sizes[0] == 64 else (sizes[0],)
    return QNet(input=InputSpec(sizes[0], bits, "digits", shape), layers=layers)


def digits_images(count, offset=0):
    """Real scikit-learn digits test images (5-bit pixels, 64 per image)."""
    from golden_model.datasets import load_dataset
    return np.asarray(load_dataset("digits").x_test[offset:offset + count], dtype=np.int64)


def run_comb(component, cases, outputs):
    """Apply ``cases`` (list of ``[(port, value), ...]``) to a combinational component.

    Returns a list, per case, of the values of the ``outputs`` (ports).
    """
    results = []

    async def bench(ctx):
        for case in cases:
            for port, value in case:
                ctx.set(port, value)
            results.append([ctx.get(port) for port in outputs])

    sim = Simulator(component)
    sim.add_testbench(bench)
    sim.run()
    return results


def run_pipeline(component, cases, outputs, seed=0, gap=0.3, platform=None):
    """Feed ``cases`` (list of ``[(port, value), ...]``) into a fixed-latency pipeline.

    One case per cycle with random idle cycles (``valid_in`` low, inputs set to
    zeros); returns the ``outputs`` sampled whenever ``valid_out`` is high, in order.
    ``platform`` (e.g. a stand-in with a ``family``) is the one it is elaborated for.
    """
    rng = np.random.default_rng(seed)
    results = []
    done = {"fed": False}

    async def feed(ctx):
        for case in cases:
            while rng.random() < gap:
                ctx.set(component.valid_in, 0)
                await ctx.tick()
            for port, value in case:
                ctx.set(port, value)
            ctx.set(component.valid_in, 1)
            await ctx.tick()
        ctx.set(component.valid_in, 0)
        done["fed"] = True

    async def collect(ctx):
        idle = 0
        while len(results) < len(cases):
            valid, *values = (await ctx.tick().sample(component.valid_out, *outputs))[2:]
            if valid:
                results.append(values)
            idle = idle + 1 if done["fed"] else 0
            if idle > 64:
                break

    sim = Simulator(component if platform is None else Fragment.get(component, platform))
    sim.add_clock(1e-8)
    sim.add_testbench(feed, background=True)
    sim.add_testbench(collect)
    sim.run()
    return results


def pulse_latency(component, case, output, max_cycles=64):
    """Cycles from one ``valid_in`` pulse (with ``case`` applied) to ``valid_out``.

    Returns ``(cycles, value of output)``; ``valid_in`` is high in cycle 0 only,
    so the count is the component's exact latency.
    """
    found = {}

    async def bench(ctx):
        for port, value in case:
            ctx.set(port, value)
        ctx.set(component.valid_in, 1)
        for cycle in range(1, max_cycles):
            await ctx.tick()
            ctx.set(component.valid_in, 0)
            if ctx.get(component.valid_out):
                found["result"] = (cycle, ctx.get(output))
                return

    sim = Simulator(component)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return found.get("result")


def run_stream(component, beats, n_out, seed=0, in_gap=0.3, out_gap=0.3, max_cycles=20000):
    """Push ``beats`` (payload values) into ``component.i`` and collect ``n_out``
    payloads from ``component.o``, both with random idle cycles."""
    rng = np.random.default_rng(seed)
    results = []

    async def produce(ctx):
        for beat in beats:
            while rng.random() < in_gap:
                await ctx.tick()
            ctx.set(component.i.payload, beat)
            ctx.set(component.i.valid, 1)
            await ctx.tick().until(component.i.ready)
            ctx.set(component.i.valid, 0)

    async def consume(ctx):
        for _ in range(max_cycles):
            ready = rng.random() >= out_gap
            ctx.set(component.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(component.o.valid,
                                                           component.o.payload)
            if valid and ready:
                results.append(payload)
                if len(results) == n_out:
                    # Anything more would be a duplicate: watch a while longer.
                    ctx.set(component.o.ready, 1)
                    for _ in range(32):
                        _, _, valid = await ctx.tick().sample(component.o.valid)
                        if valid:
                            results.append(None)
                            return
                    return

    sim = Simulator(_Clocked(component))  # a pure wire has no clock domain of its own
    sim.add_clock(1e-8)
    sim.add_testbench(produce, background=True)
    sim.add_testbench(consume)
    sim.run()
    return results


class _Clocked(Elaboratable):
    def __init__(self, component):
        self.component = component

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.dut = self.component
        return m
