import numpy as np
import pytest
from amaranth.sim import Simulator
from hdl_nets import run_stream

from golden_model.qnet import QMaxPool2D
from hdl.errors import HardwareGenerationError
from hdl.max_pool import MaxPool, PoolGeometry, estimate, pool_reference


def _images(geometry, count, seed):
    rng = np.random.default_rng(seed)
    bits = geometry.element_width
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if geometry.signed else (0, 1 << bits)
    size = geometry.height * geometry.width * geometry.channels
    return [rng.integers(lo, hi, size=size) for _ in range(count)]


def _run(geometry, images, seed, in_gap=0.3, out_gap=0.3):
    beats = [[int(v) for v in word] for image in images
             for word in np.asarray(image).reshape(-1, geometry.lanes)]
    expected = np.concatenate([pool_reference(geometry, image) for image in images])
    got = run_stream(MaxPool(geometry), beats, len(expected), seed=seed,
                     in_gap=in_gap, out_gap=out_gap)
    return ([None if b is None else [int(v) for v in b] for b in got], expected.tolist())


@pytest.mark.parametrize("shape,size,channels,lanes,signed", [
    ((4, 4), 2, 1, 1, False),
    ((5, 7), 2, 2, 1, True),     # remainder row and column dropped
    ((6, 6), 3, 4, 2, False),
    ((7, 5), 2, 3, 3, True),
    ((2, 2), 2, 1, 1, False),    # one window, one word of line: back-to-back read after write
    ((8, 3), 3, 2, 2, False),
])
def test_pool_equals_numpy_under_random_gaps(shape, size, channels, lanes, signed):
    geometry = PoolGeometry(*shape, channels, size, 4, signed, lanes)
    got, expected = _run(geometry, _images(geometry, 3, sum(shape)), seed=size + channels)
    assert got == expected


@pytest.mark.parametrize("lanes", [1, 3])
def test_pool_of_pow2_codes_by_the_value_they_code(lanes):
    from golden_model.qnet import pow2_encode

    geometry = PoolGeometry(5, 4, 3, 2, 5, lanes=lanes, pow2=True)  # exponents 0..7
    rng = np.random.default_rng(lanes)
    values = [rng.choice([-128, -4, -1, 0, 1, 2, 64, 128], size=60) for _ in range(2)]
    images = []
    for v in values:
        sign, exponent = pow2_encode(v, 7)
        images.append((sign != 0) | ((sign < 0) << 1) | (exponent << 2))
    got, expected = _run(geometry, images, seed=lanes)
    assert got == expected
    # What the codes say is the max-pool of the values.
    codes = np.array(got).reshape(-1)
    magnitude = np.where(codes & 1, 1 << (codes >> 2), 0)
    decoded = np.where(codes & 2, -magnitude, magnitude)
    want = np.concatenate([pool_reference(PoolGeometry(5, 4, 3, 2, 9, True), v) for v in values])
    assert np.array_equal(decoded, want.reshape(-1))


def test_ties_and_extremes():
    # All-equal windows and the most negative value: the maximum, not a neighbour's.
    geometry = PoolGeometry(4, 4, 1, 2, 4, signed=True)
    images = [np.full(16, -8), np.arange(16) % 3 - 8]
    got, expected = _run(geometry, images, seed=1)
    assert got == expected
    assert got[:4] == [[-8]] * 4


def test_one_beat_per_cycle():
    geometry = PoolGeometry(6, 6, 2, 2, 4)
    dut = MaxPool(geometry)
    image = _images(geometry, 1, 0)[0]
    stalls = {"n": 0}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for value in image:
            ctx.set(dut.i.payload, [int(value)])
            stalls["n"] += 0 if ctx.get(dut.i.ready) else 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert stalls["n"] == 0
    assert estimate(geometry)["cycles"] == 72


def test_geometry_of_a_qmaxpool_and_estimate():
    geometry = PoolGeometry.of_pool(QMaxPool2D((7, 9, 4), 2), element_width=5, lanes=2)
    assert (geometry.out_height, geometry.out_width, geometry.groups) == (3, 4, 2)
    assert geometry.depth == 8
    cost = estimate(geometry)
    assert cost["bits"] == 8 * 10
    assert cost["cycles"] == 7 * 9 * 2


@pytest.mark.parametrize("kwargs,words", [
    ({"lanes": 3}, "lanes must divide"),
    ({"size": 1}, "size must be in"),
    ({"size": 5}, "size must be in"),
])
def test_bad_geometry_is_one_clear_error(kwargs, words):
    args = dict(height=4, width=4, channels=2, size=2, element_width=4)
    args.update(kwargs)
    with pytest.raises(HardwareGenerationError, match=words):
        PoolGeometry(**args)


@pytest.mark.slow
def test_synthesized_luts_near_estimate_and_no_multiplier():
    from amaranth.back import verilog

    from hdl.yosys_check import lut_count, multiplier_cells, synth_stats

    geometry = PoolGeometry(14, 14, 16, 2, 4, lanes=4)
    counts = synth_stats(verilog.convert(MaxPool(geometry), name="pool"), "ice40", top="pool")
    assert multiplier_cells(counts, "ice40") == {}
    assert counts.get("SB_RAM40_4K") == 1
    assert abs(lut_count(counts, "ice40") - estimate(geometry)["lut"]) <= 0.2 * 89
