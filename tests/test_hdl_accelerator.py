import json

import numpy as np
import pytest
from amaranth.hdl import ResetInserter, Signal
from amaranth.sim import Simulator
from hdl_nets import digits_images, random_qnet

from hdl.accelerator import Accelerator
from hdl.simulate import beats_of, simulate_accelerator


def _check(acc, images, seed=0, gap=0.3):
    result = simulate_accelerator(acc, images, in_gap=gap, out_gap=gap, seed=seed)
    logits, classes = acc.qnet.forward(images)
    assert np.array_equal(result.logits, logits)
    assert np.array_equal(result.classes, classes)
    assert result.extra_outputs == 0
    return result


@pytest.mark.parametrize("folding,in_lanes", [
    (None, 1),                          # PE = SIMD = 1
    ([(16, 64), (10, 16)], 8),          # fully parallel layers
    ([(3, 5), (4, 3)], 3),              # uneven divisions everywhere
    ([(16, 1), (1, 16)], 64),           # one beat per image, PE-wide handover
])
def test_digits_bit_exact_under_backpressure(folding, in_lanes):
    qnet = random_qnet(1)
    # Wide designs simulate slowly per cycle: fewer images there.
    images = digits_images(3 if folding and folding[0][1] == 64 else 5)
    acc = Accelerator(qnet, folding=folding, in_lanes=in_lanes)
    _check(acc, images, seed=len(acc.folding) + in_lanes)


def test_pow2_binary_trec_tlin_network():
    qnet = random_qnet(2, sizes=(64, 12, 9, 10), activations=["tlin", "trec"],
                       pow2=[True, False], modes=["binary", "ternary", "binary"],
                       out_bits=[6, 3], e_max=[4, 3], shifts=(-2, 4))
    images = digits_images(4, offset=10)
    for folding in ([(2, 8), (3, 4), (5, 9)], [(12, 7), (9, 12), (4, 2)]):
        _check(Accelerator(qnet, folding=folding, in_lanes=4), images, seed=7)


@pytest.mark.parametrize("case", ["saturating", "all_negative", "tiny_widths"])
def test_edge_networks(case):
    rng = np.random.default_rng(5)
    if case == "saturating":
        qnet = random_qnet(3, sizes=(16, 6, 4), bits=8, bias=2000, shifts=(-3, 1),
                           out_bits=[3], activations=["tlin"])
    elif case == "all_negative":
        qnet = random_qnet(4, sizes=(16, 5, 3), bits=8)
        qnet.layers[0].weights[:] = -1
        qnet = type(qnet)(input=qnet.input, layers=qnet.layers)
    else:
        qnet = random_qnet(6, sizes=(7, 3, 2), bits=1, out_bits=[1], shifts=(0, 0), bias=1)
    images = rng.integers(0, 1 << qnet.input.bits, size=(6, qnet.input.n_inputs))
    for folding in (None, [(2, 3), (1, 2)]):
        _check(Accelerator(qnet, folding=folding, in_lanes=2), images, seed=11)


def test_cycles_per_image_and_latency_match_estimate():
    qnet = random_qnet(1)
    images = digits_images(3)
    # The last includes a regrouping (4 -> 7 lanes) whose vector ends in a partial word.
    for folding, in_lanes in ((None, 1), ([(4, 8), (2, 4)], 8), ([(16, 7), (10, 16)], 4)):
        acc = Accelerator(qnet, folding=folding, in_lanes=in_lanes)
        result = _check(acc, images, gap=0.0)
        intervals = np.diff(result.out_cycles)
        assert np.all(intervals == acc.cycles_per_image), (intervals, acc.cycles_per_image)
        assert abs(result.first_latency - acc.latency_cycles) <= 4


def _logits_after_a_reset(acc, images, beats_before_reset):
    """Send ``beats_before_reset``, reset, then every image; the logits that come out."""
    reset = Signal()
    dut = ResetInserter(reset)(acc)
    got = []

    async def bench(ctx):
        ctx.set(acc.o.ready, 1)
        for beat in beats_before_reset:
            ctx.set(acc.i.payload, [int(v) for v in beat])
            ctx.set(acc.i.valid, 1)
            await ctx.tick().until(acc.i.ready)
        ctx.set(acc.i.valid, 0)
        ctx.set(reset, 1)
        await ctx.tick()
        ctx.set(reset, 0)
        for image in images:
            for beat in beats_of(image, 4):
                ctx.set(acc.i.payload, [int(v) for v in beat])
                ctx.set(acc.i.valid, 1)
                await ctx.tick().until(acc.i.ready)
            ctx.set(acc.i.valid, 0)

    async def collect(ctx):
        for _ in range(4000):
            _, _, valid, payload = await ctx.tick().sample(acc.o.valid, acc.o.payload)
            if valid:
                got.append([int(payload.logits[c]) for c in range(10)])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench, background=True)
    sim.add_testbench(collect)
    sim.run()
    return np.array(got)


def test_reset_mid_image_recovers():
    qnet = random_qnet(8, sizes=(64, 8, 10))
    images = digits_images(3, offset=20)
    acc = Accelerator(qnet, folding=[(2, 4), (5, 2)], in_lanes=4)
    # Half an image, then a reset in the middle of it.
    got = _logits_after_a_reset(acc, images, beats_of(images[0], 4)[:7])
    logits, _ = qnet.forward(images)
    assert np.array_equal(got, logits)


def test_contract_attributes():
    qnet = random_qnet(1)
    acc = Accelerator(qnet, folding=[(4, 8), (2, 4)], in_lanes=2)
    acc._MustUse__silence = True  # only the attributes are looked at here
    assert acc.qnet is qnet
    assert acc.folding == [(4, 8), (2, 4)]
    assert acc.cycles_per_image == max(4 * 8, 32, 5 * 4, 5 + 1)
    report = acc.estimate()
    assert [entry["cycles_per_image"] for entry in report["layers"]] == [32, 20]
    assert report["totals"]["mac_lanes"] == 4 * 8 + 2 * 4
    assert report["layers"][0]["memory_bits"]["weights"] == 64 * 16 * 2
    assert json.loads(json.dumps(report)) == report
    assert acc.i.payload.shape().elem_shape.width == 5
    assert acc.o.payload.shape().size == 4 + 10 * qnet.widths[-1].z_bits


@pytest.mark.parametrize("seed,folding,in_lanes", [(1, [(3, 5), (4, 3)], 3), (2, None, 1)])
def test_multiplier_baseline_bit_exact(seed, folding, in_lanes):
    from hdl.baseline import BaselineAccelerator
    if seed == 1:
        qnet = random_qnet(1)
    else:
        qnet = random_qnet(2, sizes=(64, 12, 9, 10), activations=["tlin", "trec"],
                           pow2=[True, False], modes=["binary", "ternary", "binary"],
                           out_bits=[6, 3], e_max=[4, 3], shifts=(-2, 4))
    _check(BaselineAccelerator(qnet, folding=folding, in_lanes=in_lanes), digits_images(2))


@pytest.mark.parametrize("pool,stride,padding,folding", [
    (False, 2, "valid", [(2, 3), (3, 12), (1, 1), (5, 6)]),
    (True, 1, "same", [(4, 9), (6, 36), (1, 1), (1, 1), (10, 24)]),
])
def test_digits_cnn_bit_exact_under_backpressure(pool, stride, padding, folding):
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=3, stride=stride, padding=padding, pool=pool)
    acc = Accelerator(qnet, folding=folding)
    result = _check(acc, digits_images(3, offset=20), seed=1, gap=0.2)
    assert result.classes.shape == (3,)
    layer = acc.estimate()["layers"][1]
    windows = 16 if pool else 9     # 4x4 "same" after the pool, 3x3 "valid" at stride 2
    per_window = max(layer["compute_cycles"], layer["input_beats"])
    assert layer["cycles_per_image"] == windows * per_window + (
        (4 if pool else 3) if layer["input_beats"] >= layer["compute_cycles"] else 0)


@pytest.mark.parametrize("padding,stride,folding,in_lanes", [
    ("same", 1, [(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)], 1),
    ("valid", 1, [(3, 18), (1, 1), (2, 12), (1, 1), (3, 2)], 2),
])
def test_pool_of_pow2_codes_cnn_bit_exact(padding, stride, folding, in_lanes):
    # 5x4x2 pixels -> conv (pow2 codes out) -> max-pool of the codes -> binary conv -> dense.
    from qnet_conv_nets import conv_qnet

    rng = np.random.default_rng(7)
    acc = Accelerator(conv_qnet(seed=4, padding=padding, stride=stride), folding=folding,
                      in_lanes=in_lanes)
    assert acc.plan.pools[0][1].pow2
    _check(acc, rng.integers(0, 16, size=(4, 40)), seed=2, gap=0.2)


@pytest.mark.slow
def test_digits_cnn_multiplier_free_after_synthesis():
    from amaranth.back import verilog
    from qnet_conv_nets import digits_cnn

    from hdl.export import TOP_NAME
    from hdl.yosys_check import lut_count, multiplier_cells, synth_stats

    # The last layer hands on all 10 logits in one beat: the argmax collector's position
    # (beat * lanes + lane) is then a constant, not a product.
    acc = Accelerator(digits_cnn(pool=True), folding=[(2, 3), (1, 1), (3, 12), (1, 1), (10, 6)])
    text = verilog.convert(acc, name=TOP_NAME, emit_src=False)
    assert multiplier_cells(synth_stats(text, "generic"), "generic") == {}
    counts = synth_stats(text, "ice40")
    assert multiplier_cells(counts, "ice40") == {}
    # The plan's estimate is an upper bound here (measured: 2,242 LUT against 3,509
    # estimated; the per-MVU terms are sized for larger layers than these).
    estimate = acc.estimate()["totals"]["lut"]
    assert estimate / 2 <= lut_count(counts, "ice40") <= estimate


# -- images in flight ------------------------------------------------------------------------


def _trained_qnet():
    from golden_model.datasets import load_dataset
    from golden_model.network import NetworkConfig
    from golden_model.quantize import quantize
    from golden_model.train import TrainConfig, train_model

    config = NetworkConfig(sizes=(64, 24, 10), weight_mode="ternary", act_quant="int",
                           act_bits=3, act_frac_bits=1)
    network, _ = train_model(load_dataset("digits"), config,
                             TrainConfig(epochs=2, quiet=True, seed=3))
    return quantize(network)


@pytest.mark.parametrize("images_in_flight", [1, 2, 3])
@pytest.mark.parametrize("trained", [False, True])
def test_images_in_flight_bit_exact_under_backpressure(images_in_flight, trained):
    qnet = _trained_qnet() if trained else random_qnet(1)
    acc = Accelerator(qnet, folding=[(3, 5), (4, 3)], in_lanes=3, images=images_in_flight)
    # 7 images: whole groups and an uneven tail, with gaps on both sides.
    _check(acc, digits_images(7, offset=30), seed=images_in_flight)


@pytest.mark.parametrize("weight_store", ["ram", "spram"])
def test_images_in_flight_loadable_base3_weights(weight_store):
    qnet = random_qnet(1)
    acc = Accelerator(qnet, folding=[(4, 8), (2, 4)], in_lanes=8, images=2,
                      weight_store=weight_store)
    _check(acc, digits_images(5, offset=40), seed=3)


@pytest.mark.parametrize("images_in_flight", [2, 3])
def test_images_in_flight_cycles_match_estimate(images_in_flight):
    qnet = random_qnet(1)
    b = images_in_flight
    for folding, in_lanes in ((None, 1), ([(4, 8), (2, 4)], 8)):
        acc = Accelerator(qnet, folding=folding, in_lanes=in_lanes, images=b)
        full = _check(acc, digits_images(3 * b), gap=0.0)
        # Whole groups at full rate: B answers per pass of the slowest compute loop.
        group = full.out_cycles[b::b] - full.out_cycles[:-b:b]
        assert np.all(group == b * acc.cycles_per_image), (group, acc.cycles_per_image)
        # An image sent alone: its partial group closes after GROUP_WAIT idle cycles.
        alone = _check(acc, digits_images(1), gap=0.0)
        assert alone.first_latency == acc.latency_cycles


def test_images_in_flight_reset_mid_group_recovers():
    qnet = random_qnet(8, sizes=(64, 8, 10))
    images = digits_images(5, offset=20)
    acc = Accelerator(qnet, folding=[(2, 4), (5, 2)], in_lanes=4, images=3)
    # One whole image and half of the next, then a reset while the group gathers.
    got = _logits_after_a_reset(acc, images,
                                [*beats_of(images[0], 4), *beats_of(images[1], 4)[:7]])
    logits, _ = qnet.forward(images)
    assert np.array_equal(got, logits)
