"""Throughput of the digits board top as generated Verilog, under cocotb at the real baud.

End to end at 1 and 3 Mbaud on Icarus (a request per answer, then ``BENCH``), batches of
4 streamed at the link's pipelined bound on Verilator, and the accelerator fed 4 pixels a
beat; every answer checked against ``QNet.forward``. Kept apart from
``test_boards_board_top_cocotb.py`` so that their Verilator runs can go to different test
workers.
"""

import json

import pytest
from board_top_runs import DIGITS_CLOCK_HZ, DIGITS_FOLDING, DIGITS_SIZES, run_digits_board_top
from boards_qnets import make_qnet, random_images

from hdl.accelerator import Accelerator


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
