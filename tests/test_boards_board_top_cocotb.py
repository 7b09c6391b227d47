"""The UART board top as generated Verilog, with the real Accelerator, under cocotb.

Images go in through ``cocotbext-uart``; every answer must equal
``QNet.forward`` (through the Python board model), and malformed requests
must be rejected with the right error while the board keeps answering. A
bitstream with loadable weights goes through a whole load session: in a
plain memory (``ram``) on Icarus, in ``SB_SPRAM256KA`` blocks simulated by
Yosys's cell model on Verilator.
"""

import json

import pytest
from amaranth.back import verilog
from boards_qnets import make_qnet, random_images

from boards.board_top import BoardTop
from hdl.accelerator import Accelerator
from sim.runner import run_cocotb
from sim.vendor_models import spram_model, uses_spram

DIVISOR = 8
TIMEOUT_CYCLES = 600
PERIOD_NS = 10
FOLDING = [(2, 3), (2, 2)]


def run_board_top(tmp_path, simulator, testcase, weight_store=None, in_flight=1):
    """Build the board top of a small QNet (``in_flight`` images in flight) and run one cocotb
    test; returns the cycle counts of the INFER answers it checked."""
    qnet = make_qnet(sizes=(12, 6, 4), in_bits=4, seed=11, pow2=True)
    accelerator = (Accelerator(qnet, folding=FOLDING, weight_store=weight_store,
                               images=in_flight) if in_flight > 1 else None)
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=int(1e9 / PERIOD_NS),
                   timeout_cycles=TIMEOUT_CYCLES, folding=FOLDING, weight_store=weight_store,
                   accelerator=accelerator, n_leds=3, bench=True)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    sources = [text]
    if uses_spram(text):
        sources.append(spram_model())
    assert uses_spram(text) == (weight_store == "spram")
    qnet_path = tmp_path / "net.qnet.npz"
    qnet.save(qnet_path)
    images = random_images(qnet, 5, seed=4)
    images[0] = 0                                    # all-zero image
    images[1] = (1 << qnet.input.bits) - 1           # saturated image
    return _run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, FOLDING,
                   weight_store, build_key=f"board_top_{weight_store or 'rom'}"
                   + (f"_b{in_flight}" if in_flight > 1 else ""))


def _run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, folding, weight_store,
            build_key):
    """Run ``boards.tb_board_top``'s ``testcase`` on the board top in ``sources``; the
    cycle counts of the INFER answers it checked."""
    config = {
        "qnet": str(qnet_path), "images": images.tolist(), "clock_period_ns": PERIOD_NS,
        "clock_hz": int(1e9 / PERIOD_NS), "divisor": DIVISOR,
        "timeout_cycles": TIMEOUT_CYCLES, "max_answer_cycles": 40_000,
        "folding": folding, "weight_store": weight_store,
    }
    config_path = tmp_path / "tb.json"
    config_path.write_text(json.dumps(config))
    run = run_cocotb(sources, toplevel="mulfree_board", test_module="boards.tb_board_top",
                     simulator=simulator, build_key=build_key,
                     testcase=testcase, extra_env={"MULFREE_BOARD_TB": str(config_path)})
    if run.status == "skipped":
        pytest.skip(run.reason)
    log = run.log_file.read_text()[-3000:] if run.log_file and run.log_file.exists() else ""
    assert run.status == "passed", f"{run.reason}\n{log}"
    assert run.n_tests == 1 and run.n_failed == 0
    return json.loads((run.run_dir / "cycles.json").read_text())


@pytest.mark.slow
# Both simulators: the board top is its own design (UART, framing, image buffer).
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_board_top_answers_equal_qnet_forward(tmp_path, simulator):
    cycles = run_board_top(tmp_path, simulator, "images_and_malformed_frames")
    assert len(cycles) == 5 + 8                       # every INFER answer was checked


@pytest.mark.slow
@pytest.mark.parametrize("simulator, weight_store", [("icarus", "ram"),
                                                     ("verilator", "spram")])
def test_board_top_loads_weights_then_answers_equal_qnet_forward(tmp_path, simulator,
                                                                 weight_store):
    cycles = run_board_top(tmp_path, simulator, "weight_load_session", weight_store)
    assert len(cycles) == 5 + 1                       # the loaded images and the last INFER


@pytest.mark.slow
def test_board_top_with_images_in_flight_answers_single_images(tmp_path):
    # The board top sends one image at a time: each closes a partial group by itself.
    cycles = run_board_top(tmp_path, "verilator", "images_and_malformed_frames",
                           in_flight=3)
    assert len(cycles) == 5 + 8


#: The digits network of the README's UP5K row (64-128-128-10, 5-bit pixels), its folding
#: and clock; random weights, as the rate does not depend on them.
DIGITS_SIZES = (64, 128, 128, 10)
DIGITS_FOLDING = [(1, 8), (1, 16), (1, 2)]
DIGITS_CLOCK_HZ = 30_000_000


def run_digits_board_top(tmp_path, baud, images, testcase, simulator, *, max_batch=1,
                         folding=DIGITS_FOLDING, in_lanes=1, **config):
    """Build the digits board top (BENCH on, ``max_batch``, the accelerator at ``folding``
    fed ``in_lanes`` pixels a beat) with the UART at ``baud`` for a 30 MHz clock, run
    ``boards.tb_board_top``'s ``testcase`` on ``images`` and return ``(qnet, the run)``;
    ``config`` adds testbench settings."""
    from boards.uart import uart_divisor

    qnet = make_qnet(sizes=DIGITS_SIZES, in_bits=5, seed=3)
    divisor = uart_divisor(DIGITS_CLOCK_HZ, baud)
    timeout = 20 * 10 * divisor                     # 20 idle byte times
    accelerator = Accelerator(qnet, folding=folding, in_lanes=in_lanes)
    top = BoardTop(qnet, divisor=divisor, clock_hz=DIGITS_CLOCK_HZ, timeout_cycles=timeout,
                   accelerator=accelerator, bench=True, max_batch=max_batch)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    qnet_path = tmp_path / "digits.qnet.npz"
    qnet.save(qnet_path)
    config = {
        "qnet": str(qnet_path), "images": images(qnet).tolist(), "clock_period_ns": PERIOD_NS,
        "clock_hz": DIGITS_CLOCK_HZ, "divisor": divisor, "timeout_cycles": timeout,
        "folding": folding, "weight_store": None, "max_batch": max_batch,
        "in_lanes": in_lanes, **config,
    }
    config_path = tmp_path / "tb.json"
    config_path.write_text(json.dumps(config))
    key = f"board_top_digits_div{divisor}" + (f"_batch{max_batch}" if max_batch > 1 else "")
    if folding != DIGITS_FOLDING or in_lanes != 1:
        key += "_" + "_".join(f"{pe}x{simd}" for pe, simd in folding) + f"_l{in_lanes}"
    run = run_cocotb([text], toplevel="mulfree_board", test_module="boards.tb_board_top",
                     simulator=simulator, build_key=key, testcase=testcase,
                     extra_env={"MULFREE_BOARD_TB": str(config_path)})
    if run.status == "skipped":
        pytest.skip(run.reason)
    log = run.log_file.read_text()[-3000:] if run.log_file and run.log_file.exists() else ""
    assert run.status == "passed", f"{run.reason}\n{log}"
    return qnet, run


def digits_end_to_end_rate(tmp_path, baud, n_images=3, bench_replays=6, simulator="icarus"):
    """Run ``end_to_end_rate`` on the digits board top with the UART at ``baud`` for a
    30 MHz clock (the simulated clock period does not matter: everything counts
    cycles). Returns ``(measured images/s, the link bound, engine cycles, the rate
    file)``."""
    from boards import protocol as p
    from boards.link_rate import link_bound

    qnet, run = run_digits_board_top(
        tmp_path, baud, lambda qnet: random_images(qnet, n_images, seed=9), "end_to_end_rate",
        simulator, bench_replays=bench_replays)
    rate = json.loads((run.run_dir / "rate.json").read_text())
    assert rate["images"] == n_images and len(rate["engine_cycles"]) == n_images
    measured = n_images * DIGITS_CLOCK_HZ / rate["cycles"]
    bound = link_bound(p.Layout.of(qnet), baud, logits=True)
    return measured, bound, rate["engine_cycles"], rate


@pytest.mark.slow
@pytest.mark.parametrize("baud", [1_000_000, 3_000_000])
def test_board_top_end_to_end_rate_at_the_real_baud_is_the_link_bound(tmp_path, baud):
    """Every answer bit-exact; the measured images/s is what report.json computes."""
    measured, bound, engine_cycles, rate = digits_end_to_end_rate(tmp_path, baud)
    latency_s = engine_cycles[0] / DIGITS_CLOCK_HZ
    expected = bound.end_to_end(DIGITS_CLOCK_HZ / engine_cycles[0], latency_s)
    # The board's own steps (checksum, answer set-up) add a few cycles per image.
    assert measured == pytest.approx(expected, rel=0.02)
    assert measured < bound.images_per_s
    # BENCH (its checksum checked in the testbench): the images overlap in the engine,
    # so six take one latency and five initiation intervals.
    accelerator = Accelerator(make_qnet(sizes=DIGITS_SIZES, in_bits=5, seed=3),
                              folding=DIGITS_FOLDING)
    accelerator._MustUse__silence = True            # built only for its cycle figure
    interval = accelerator.cycles_per_image
    assert rate["bench_cycles"] == engine_cycles[0] + 5 * interval < 6 * engine_cycles[0]
    print(f"\n{baud} baud: {measured:,.1f} images/s end to end measured, "
          f"{expected:,.1f} computed, link {bound.images_per_s:,.1f}, "
          f"latency {engine_cycles[0]} cycles; BENCH 6 images in {rate['bench_cycles']} "
          f"cycles ({6 * DIGITS_CLOCK_HZ / rate['bench_cycles']:,.0f} images/s), "
          f"{interval} cycles per image estimated")


# -- a trained CNN behind the UART -------------------------------------------------------

#: The trained digits CNN of tests/trained_cnns.py (conv, pool, conv, pool, flatten, dense,
#: dense) folded as in tests/test_sim_cmd.py.
CNN_FOLDING = [(2, 9), (1, 1), (4, 8), (1, 1), (1, 1), (4, 16), (10, 8)]


@pytest.fixture(scope="module")
def digits_cnn_path(tmp_path_factory):
    from trained_cnns import train_cnn

    return train_cnn(tmp_path_factory.mktemp("digits-cnn"), "digits", epochs=3)


def run_cnn_board_top(tmp_path, qnet_path, simulator, testcase, weight_store=None,
                      n_images=4):
    """The board top of the trained CNN on its first ``n_images`` digits test images; the
    cycle counts of the INFER answers checked."""
    from golden_model.datasets import load_dataset
    from golden_model.qnet import QNet

    qnet = QNet.load(qnet_path)
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=int(1e9 / PERIOD_NS),
                   timeout_cycles=TIMEOUT_CYCLES, folding=CNN_FOLDING,
                   weight_store=weight_store, n_leds=3, bench=True)
    text = verilog.convert(top, name="mulfree_board", emit_src=False)
    sources = [text] + ([spram_model()] if uses_spram(text) else [])
    assert uses_spram(text) == (weight_store is not None and "spram" in weight_store)
    images = load_dataset("digits", test_only=True).x_test[:n_images]
    return _run_tb(tmp_path, sources, simulator, testcase, qnet_path, images, CNN_FOLDING,
                   weight_store, build_key=f"board_top_cnn_{testcase}")


@pytest.mark.slow
def test_board_top_runs_a_trained_cnn_on_real_test_images(tmp_path, digits_cnn_path):
    """INFO (a folding per QNet layer), every answer equal to QNet.forward on real digits
    test images (class and logits), malformed requests refused, on Verilator."""
    cycles = run_cnn_board_top(tmp_path, digits_cnn_path, "verilator",
                               "images_and_malformed_frames")
    assert len(cycles) == 4 + 8                       # every INFER answer was checked
    assert cycles[0] > 584                            # a latency, over one interval


@pytest.mark.slow
def test_board_top_loads_a_trained_cnn_s_spram_weights_then_answers_equal_forward(
        tmp_path, digits_cnn_path):
    """Both convolutions' weights in SB_SPRAM256KA blocks (Yosys's model, Verilator),
    loaded over the UART: refused before, bit-exact on real test images after."""
    stores = ["spram", "rom", "spram", "rom", "rom", "rom", "rom"]
    cycles = run_cnn_board_top(tmp_path, digits_cnn_path, "verilator", "weight_load_session",
                               weight_store=stores)
    assert len(cycles) == 4 + 1                       # the loaded images and the last INFER


#: Images per batch of the batched end-to-end run, and the batches streamed.
E2E_BATCH = 4
E2E_BATCHES = 3


@pytest.mark.slow
def test_batched_board_top_streams_at_the_link_s_pipelined_bound(tmp_path):
    """The digits board top with max_batch 4 and BENCH at 3 Mbaud (30 MHz, as built for
    the iCEBreaker) on Verilator (Icarus takes minutes): three batches with two in
    flight, every answer bit-exact; the replies then end one request's time apart,
    the pipelined bound of boards/link_rate.py within 2 %; a batch of one, one too
    many, BENCH over the held batch and a reset in the middle of a batch (see
    tb_board_top)."""
    from boards import protocol as p
    from boards.link_rate import link_bound

    baud = 3_000_000
    qnet, run = run_digits_board_top(
        tmp_path, baud, lambda qnet: random_images(qnet, E2E_BATCH * E2E_BATCHES, seed=9),
        "batched_end_to_end", "verilator", max_batch=E2E_BATCH)
    result = json.loads((run.run_dir / "batched.json").read_text())
    ends = result["ends"]
    assert len(ends) == E2E_BATCHES
    # Steady state: from the first reply's end to the last's, one batch per request time.
    measured = E2E_BATCH * (len(ends) - 1) * DIGITS_CLOCK_HZ / (ends[-1] - ends[0])
    bound = link_bound(p.Layout.of(qnet), baud, batch=E2E_BATCH, logits=True)
    assert measured == pytest.approx(bound.images_per_s, rel=0.02)
    overall = E2E_BATCH * E2E_BATCHES * DIGITS_CLOCK_HZ / ends[-1]
    # Each image's count is its latency alone (one image in the engine at a time), as INFER's.
    assert len(set(result["cycles"])) == 1
    print(f"\nbatches of {E2E_BATCH} at {baud} baud: {measured:,.1f} images/s between "
          f"replies ({bound.images_per_s:,.1f} the link's pipelined bound), {overall:,.1f} "
          f"from the first request byte to the last reply byte for {E2E_BATCH * E2E_BATCHES} "
          f"images; "
          f"latency {result['cycles'][0]} cycles; BENCH of {2 * E2E_BATCH + 1} held images "
          f"in {result['bench_cycles']} cycles")


#: Layer 0 at 4 x 64 lanes and layer 1 at 8 x 64 take an image in 32 cycles, layer 2 at
#: 5 x 8 in 32: fed a pixel a beat the engine waits 64 cycles for an image's pixels, fed
#: 4 it takes one every 32 (the README's ULX3S --in-lanes rows).
LANES_FOLDING = [(4, 64), (8, 64), (5, 8)]


@pytest.mark.slow
def test_board_top_fed_four_pixels_a_beat_streams_bit_exact_and_benches_twice_as_fast(
        tmp_path):
    """The digits board top with the accelerator fed 4 pixels a beat on Verilator: batches,
    a batch of one, BENCH over a held batch and a reset in the middle of a batch, every
    answer bit-exact (tb_board_top's batched_end_to_end); BENCH's cycles are one latency
    and then the engine's 32 cycles an image, half of what a pixel a beat allows."""
    qnet, run = run_digits_board_top(
        tmp_path, 3_000_000, lambda qnet: random_images(qnet, E2E_BATCH * E2E_BATCHES, seed=9),
        "batched_end_to_end", "verilator", max_batch=E2E_BATCH, folding=LANES_FOLDING,
        in_lanes=4)
    result = json.loads((run.run_dir / "batched.json").read_text())
    latency = result["cycles"][0]
    assert set(result["cycles"]) == {latency}
    accelerator = Accelerator(qnet, folding=LANES_FOLDING, in_lanes=4)
    accelerator._MustUse__silence = True            # built only for its cycle figures
    assert accelerator.cycles_per_image == 32
    replays = 2 * E2E_BATCH + 1
    per_image = (result["bench_cycles"] - latency) / (replays - 1)
    print(f"\n4 pixels a beat, {LANES_FOLDING}: latency {latency} cycles, BENCH {replays} "
          f"images in {result['bench_cycles']} cycles: {per_image:g} cycles per image after "
          f"the first ({accelerator.cycles_per_image} estimated; 64 pixels of 5 bits)")
    assert result["bench_cycles"] == latency + (replays - 1) * 32
