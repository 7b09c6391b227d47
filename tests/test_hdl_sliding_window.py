import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator
from hdl_nets import run_stream

from golden_model.qnet import QConv2D
from hdl.errors import HardwareGenerationError
from hdl.sliding_window import SlidingWindow, WindowGeometry, estimate, window_reference


def _images(geometry, count, seed):
    rng = np.random.default_rng(seed)
    size = geometry.height * geometry.width * geometry.channels
    return [rng.integers(0, 1 << geometry.element_width, size=size) for _ in range(count)]


def _run(geometry, images, seed, in_gap=0.3, out_gap=0.3):
    """Stream ``images`` through the unit; (got beats, expected beats) as lists of lists."""
    beats = [[int(v) for v in word] for image in images
             for word in np.asarray(image).reshape(-1, geometry.lanes)]
    expected = np.concatenate([window_reference(geometry, image) for image in images])
    got = run_stream(SlidingWindow(geometry), beats, len(expected), seed=seed,
                     in_gap=in_gap, out_gap=out_gap)
    return ([None if b is None else [int(v) for v in b] for b in got],
            expected.tolist())


@pytest.mark.parametrize("kernel,stride,padding",
                         list(itertools.product([1, 2, 3], [1, 2], ["same", "valid"])))
def test_windows_equal_im2col_under_random_gaps(kernel, stride, padding):
    # 5 x 6: odd and even sides, so "same" pads unevenly and stride 2 leaves remainders.
    geometry = WindowGeometry(5, 6, 2, kernel, stride, padding, (7, 3), 4)
    got, expected = _run(geometry, _images(geometry, 2, kernel * 10 + stride), seed=kernel)
    assert got == expected


@pytest.mark.parametrize("kernel,stride", [(3, 2), (5, 1)])
def test_several_lanes_per_beat_and_pad_value_per_channel(kernel, stride):
    geometry = WindowGeometry(6, 5, 4, kernel, stride, "same", (1, 2, 3, 15), 4, lanes=2)
    got, expected = _run(geometry, _images(geometry, 2, kernel), seed=kernel)
    assert got == expected
    # Padded positions carry each channel's own pad value, not zero.
    assert [1, 2] in expected and [3, 15] in expected


def test_stride_above_kernel_skips_rows_without_losing_count():
    # A 1x1 kernel at stride 2 releases rows it never reads; three images in a row.
    geometry = WindowGeometry(5, 5, 1, 1, 2, "valid", (0,), 3)
    got, expected = _run(geometry, _images(geometry, 3, 5), seed=5, in_gap=0.0, out_gap=0.5)
    assert got == expected


def _full_rate_cycles(geometry, images):
    """Cycles from the first input beat to the last output beat, no gaps either side."""
    dut = SlidingWindow(geometry)
    words = [[int(v) for v in w] for image in images
             for w in np.asarray(image).reshape(-1, geometry.lanes)]
    n_out = geometry.beats_out * len(images)
    state = {"out": 0, "cycle": 0}

    async def produce(ctx):
        for word in words:
            ctx.set(dut.i.payload, word)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def consume(ctx):
        ctx.set(dut.o.ready, 1)
        while state["out"] < n_out:
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            state["cycle"] += 1
            state["out"] += int(valid)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(produce, background=True)
    sim.add_testbench(consume)
    sim.run()
    return state["cycle"]


def test_full_rate_overlaps_images():
    # 3x3 stride 1 "same" on 8x8: 576 window beats per image against 64 pixels in,
    # so the reader sets the pace and images follow one another without a gap
    # beyond the first rows of the first image.
    geometry = WindowGeometry(8, 8, 1, 3, 1, "same", (0,), 5)
    cycles = _full_rate_cycles(geometry, _images(geometry, 3, 0))
    per_image = estimate(geometry)["cycles"]
    assert per_image == 576 + 8  # one cycle per output row
    assert 3 * per_image <= cycles <= 3 * per_image + 2 * 8 + 4


def test_geometry_of_a_qconv_and_estimate():
    layer = QConv2D(weights=np.zeros((4, 3, 3, 2), dtype=np.int64), bias=np.zeros(4),
                    shift=np.zeros(4), in_shape=(7, 9, 2), stride=2, padding="same",
                    pad_value=np.array([5, 6]))
    geometry = WindowGeometry.of_conv(layer, element_width=4)
    assert (geometry.out_height, geometry.out_width) == layer.out_shape[:2] == (4, 5)
    assert geometry.pads == layer.pads
    assert geometry.rows == 5 and geometry.row_bits == 5  # 18 words a row -> 32-word slots
    assert geometry.depth == 160
    cost = estimate(geometry)
    assert cost["bits"] == 160 * 4
    assert cost["cycles"] == 4 * 5 * 9 * 2 + 4
    assert 100 < cost["lut"] < 300


@pytest.mark.parametrize("kwargs,words", [
    ({"lanes": 3}, "lanes must divide"),
    ({"pad_value": (1,)}, "expected 2 pad values"),
    ({"pad_value": (1, 16)}, "fit 4 unsigned bits"),
])
def test_bad_geometry_is_one_clear_error(kwargs, words):
    args = dict(height=4, width=4, channels=2, kernel=3, stride=1, padding="same",
                pad_value=(0, 0), element_width=4)
    args.update(kwargs)
    with pytest.raises(HardwareGenerationError, match=words):
        WindowGeometry(**args)


@pytest.mark.slow
def test_synthesized_luts_near_estimate_and_no_multiplier():
    from amaranth.back import verilog

    from hdl.yosys_check import lut_count, multiplier_cells, synth_stats

    geometry = WindowGeometry(28, 28, 1, 3, 1, "same", (3,), 5)
    counts = synth_stats(verilog.convert(SlidingWindow(geometry), name="window"), "ice40",
                         top="window")
    assert multiplier_cells(counts, "ice40") == {}
    assert counts.get("SB_RAM40_4K") == 1
    assert abs(lut_count(counts, "ice40") - estimate(geometry)["lut"]) <= 0.2 * 211
