import numpy as np
import pytest
from hdl_nets import run_stream

from hdl.argmax import ArgmaxCollector, class_width, reference


def _run(logits, lanes, width=8, seed=0, gaps=0.3):
    logits = np.asarray(logits)
    n_classes = logits.shape[1]
    dut = ArgmaxCollector(n_classes, lanes, width)
    beats = []
    for row in logits:
        count = -(-n_classes // lanes)
        padded = np.full(count * lanes, (1 << (width - 1)) - 1)  # junk above the real logits
        padded[:n_classes] = row
        beats += [[int(v) for v in beat] for beat in padded.reshape(count, lanes)]
    got = run_stream(dut, beats, len(logits), seed=seed, in_gap=gaps, out_gap=gaps)
    assert all(g is not None for g in got), "more outputs than images"
    return (np.array([g.cls for g in got]),
            np.array([[g.logits[c] for c in range(n_classes)] for g in got]))


@pytest.mark.parametrize("lanes", [1, 3, 10])
def test_argmax_ties_lowest_index_and_negative_logits(lanes):
    logits = np.array([
        [5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [-128, -3, -3, -128, -128, -128, -128, -128, -128, -128],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 127],
        [127, 127, 0, 0, 0, 0, 0, 0, 0, 127],
        [-128] * 10,
    ])
    classes, echoed = _run(logits, lanes, seed=lanes)
    assert classes.tolist() == [0, 1, 9, 0, 0]
    assert np.array_equal(classes, reference(logits))
    assert np.array_equal(echoed, logits)


def test_argmax_random_rows():
    rng = np.random.default_rng(3)
    logits = rng.integers(-4, 4, size=(12, 7))
    classes, echoed = _run(logits, 2, width=3)
    assert np.array_equal(classes, reference(logits))
    assert np.array_equal(echoed, logits)


def test_class_width():
    assert [class_width(c) for c in (1, 2, 3, 10, 16, 17)] == [1, 1, 2, 4, 4, 5]


@pytest.mark.parametrize("lanes", [2, 4, 5])
def test_ties_across_lanes_and_beats_with_wide_beats(lanes):
    # Equal maxima inside one beat and in later beats: the first one wins.
    logits = np.array([
        [1, 7, 7, 7, 7, 7, 7, 7, 7, 7],
        [7, 7, 7, 7, 7, 7, 7, 7, 7, 8],
        [0, 0, 0, 0, 0, 3, 3, 0, 0, 3],
        [-5, -4, -4, -6, -7, -4, -8, -9, -4, -4],
    ])
    classes, echoed = _run(logits, lanes, seed=lanes, gaps=0.5)
    assert classes.tolist() == [1, 9, 5, 1]
    assert np.array_equal(echoed, logits)


@pytest.mark.parametrize("lanes", [1, 3, 10])
def test_full_rate_interval_and_latency_match_estimate(lanes):
    from amaranth.sim import Simulator

    from hdl.argmax import estimate
    n, images = 10, 4
    dut = ArgmaxCollector(n, lanes, 8)
    beats = -(-n // lanes)
    accepted, delivered = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for cycle in range(images * (beats + 4)):
            ctx.set(dut.i.payload, [cycle % 7] * lanes)
            if ctx.get(dut.i.ready):
                accepted.append(cycle)
            if ctx.get(dut.o.valid):
                delivered.append(cycle)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    est = estimate(n, lanes, 8)
    last_beats = accepted[beats - 1::beats]
    # Back to back, one image per `cycles`; the class `latency` cycles after its last beat.
    assert np.all(np.diff(delivered[:images]) == est["cycles"])
    assert [d - b for d, b in zip(delivered, last_beats, strict=False)][:images] == (
        [est["latency"]] * images)
