"""Drive the trainer in Amaranth's simulator: load a state, train on samples, read back.

Used by the tests; :func:`state_mismatches` names every differing shadow
weight and bias (layer, row, column, expected, got).
"""

import numpy as np
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hdl.spram import AMARANTH_SIMULATION

from .plan import (
    TrainerPlanError,
    bias_from_words,
    bias_words,
    check_samples,
    plan_trainer,
    shadow_from_words,
    shadow_words,
)
from .trainer import Trainer

__all__ = ["simulate_training", "state_mismatches"]


async def _load(ctx, dut, plan, state):
    for k, (lp, layer) in enumerate(zip(plan.layers, state.layers, strict=True)):
        for sel, words in ((2 * k, shadow_words(lp, layer.shadow)),
                           (2 * k + 1, bias_words(lp, layer.bias))):
            for address, word in enumerate(words):
                ctx.set(dut.state_sel, sel)
                ctx.set(dut.state_addr, address)
                ctx.set(dut.state_wdata, word)
                ctx.set(dut.state_we, 1)
                await ctx.tick()
    ctx.set(dut.state_we, 0)
    ctx.set(dut.step_wdata, state.step & 0xFFFFFFFF)
    ctx.set(dut.step_we, 1)
    await ctx.tick()
    ctx.set(dut.step_we, 0)


async def _read_back(ctx, dut, plan, state):
    got = state.copy()
    for k, lp in enumerate(plan.layers):
        images = []
        for sel, depth in ((2 * k, lp.depth), (2 * k + 1, lp.row_groups)):
            words = []
            for address in range(depth):
                ctx.set(dut.state_sel, sel)
                ctx.set(dut.state_addr, address)
                await ctx.tick()
                words.append(ctx.get(dut.state_rdata))
            images.append(words)
        got.layers[k].shadow = shadow_from_words(lp, images[0])
        got.layers[k].bias = bias_from_words(lp, images[1])
    got.step = ctx.get(dut.step)
    return got


def simulate_training(state, folding, images, labels, gap=0.0, seed=0, trainer=None,
                      evaluate=None, spram=()):
    """Train a copy of ``state`` on the trainer over the samples; read the state back.

    Parameters
    ----------
    state : QTrainState
        Loaded through the state port (shadows, biases, step mod 2**32).
    folding : sequence of (PE, SIMD)
    images : ndarray of int, shape (n, n_inputs)
    labels : ndarray of int, shape (n,)
    gap : float
        Probability of an idle cycle before each input beat and of ``o.ready``
        low in a cycle (random valid/ready gaps).
    seed : int
        Seed of the gaps.
    trainer : callable, optional
        Builds the component from the plan (default :class:`Trainer`).
    spram : iterable of int
        Layers whose shadows are in SPRAM (:func:`~hdl.trainer.plan.plan_trainer`).
    evaluate : sequence of bool, optional
        Per sample: evaluate it (forward only, deterministic weights, no
        update) instead of training on it. Default: train on every sample.

    Returns
    -------
    dict
        ``state`` (the read-back QTrainState), ``classes`` (per sample, before
        the update) and ``busy_cycles`` (cycles not idle, per sample).
    """
    plan = plan_trainer(state, folding, spram)
    images, labels = check_samples(plan, images, labels)
    flags = [False] * len(labels) if evaluate is None else [bool(v) for v in evaluate]
    if len(flags) != len(labels):
        raise TrainerPlanError(f"evaluate: expected {len(labels)} flags (one per sample), "
                               f"got {len(flags)}")
    dut = (trainer or Trainer)(plan)
    rng = np.random.default_rng(seed)
    n = len(labels)
    out = {"classes": [], "busy_cycles": [0]}
    finished = []

    async def producer(ctx):
        await _load(ctx, dut, plan, state)
        for x, label, flag in zip(images, labels, flags, strict=True):
            for beat in [int(v) for v in x] + [int(label)]:
                while gap and rng.random() < gap:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                ctx.set(dut.evaluate, flag)
                ctx.set(dut.i.payload, beat)
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
        while not finished:
            await ctx.tick()
        await ctx.tick().until(dut.idle)
        out["state"] = await _read_back(ctx, dut, plan, state)

    async def consumer(ctx):
        while len(out["classes"]) < n:
            ready = not (gap and rng.random() < gap)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if ready and valid:
                out["classes"].append(int(payload))
        ctx.set(dut.o.ready, 0)
        finished.append(True)

    async def counter(ctx):
        was_busy = False
        while True:
            _, _, busy = await ctx.tick().sample(dut.busy)
            if busy:
                out["busy_cycles"][-1] += 1
            elif was_busy:
                out["busy_cycles"].append(0)
            was_busy = busy

    # SPRAM shadows elaborate to their simulation model.
    sim = Simulator(Fragment.get(dut, platform=AMARANTH_SIMULATION))
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(counter, background=True)
    sim.run()
    out["busy_cycles"] = [c for c in out["busy_cycles"] if c][:n]
    return out


def state_mismatches(expected, got, limit=20):
    """Messages naming each differing shadow weight, bias and the step (at most ``limit``)."""
    messages = []
    for k, (want, have) in enumerate(zip(expected.layers, got.layers, strict=True)):
        for j, i in zip(*np.nonzero(want.shadow != have.shadow), strict=True):
            messages.append(f"layer {k} shadow row {j} column {i}: expected "
                            f"{want.shadow[j, i]}, got {have.shadow[j, i]}")
        for j in np.nonzero(want.bias != have.bias)[0]:
            messages.append(f"layer {k} bias row {j}: expected {want.bias[j]}, "
                            f"got {have.bias[j]}")
    if expected.step & 0xFFFFFFFF != got.step & 0xFFFFFFFF:
        messages.append(f"step: expected {expected.step & 0xFFFFFFFF}, got {got.step}")
    return messages[:limit]
