"""The serial engine in Amaranth's simulator, with an exact table accelerator.

Every answer is compared byte for byte with the Python board model (which
answers with ``QNet.forward``). The cocotb test of the generated Verilog
with the real Accelerator is in test_boards_board_top_cocotb*.py.
"""

import numpy as np
import pytest
from amaranth import ResetInserter, Signal
from amaranth.sim import Simulator
from boards_qnets import make_qnet
from boards_table_accel import TableAccelerator

from boards import protocol as p
from boards.board_model import BoardModel
from boards.board_top import BoardTop

DIVISOR = 4
TIMEOUT = 120


def tiny_qnet(seed=3):
    return make_qnet(sizes=(3, 4, 3), in_bits=2, seed=seed)


def simulate(top, chunks, reset=None):
    """Send each chunk of bytes (waiting for the line to go idle after each);
    return everything the top transmitted. With ``reset`` (the signal of a
    ``ResetInserter`` around ``top``), a chunk ``None`` is a reset pulse, sent
    as soon as the chunk before it is out."""
    received = bytearray()
    sim = Simulator(top if reset is None else ResetInserter(reset)(top))
    sim.add_clock(1e-6)

    async def host(ctx):
        for k, chunk in enumerate(chunks):
            if chunk is None:
                ctx.set(reset, 1)
                await ctx.tick()
                ctx.set(reset, 0)
                continue
            for byte in chunk:
                for bit in [0, *((byte >> k) & 1 for k in range(8)), 1]:
                    ctx.set(top.rx, bit)
                    await ctx.tick().repeat(DIVISOR)
            ctx.set(top.rx, 1)
            if k + 1 < len(chunks) and chunks[k + 1] is None:
                continue
            await ctx.tick().repeat(TIMEOUT + 60 * DIVISOR * 10 + 400)

    async def listener(ctx):
        while True:
            await ctx.negedge(top.tx)
            await ctx.tick().repeat(DIVISOR // 2)
            byte = 0
            for k in range(8):
                await ctx.tick().repeat(DIVISOR)
                byte |= ctx.get(top.tx) << k
            await ctx.tick().repeat(DIVISOR)
            assert ctx.get(top.tx) == 1, "stop bit"
            received.append(byte)

    sim.add_testbench(host)
    sim.add_testbench(listener, background=True)
    sim.run()
    return bytes(received)


def make_top(qnet):
    return BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                    accelerator=TableAccelerator(qnet), n_leds=3, bench=True)


def test_answers_equal_the_model_including_malformed_requests():
    qnet = tiny_qnet()
    layout = p.Layout.of(qnet)
    rng = np.random.default_rng(5)
    images = rng.integers(0, 4, size=(3, 3))
    chunks = [
        b"\x13\x37",                                                         # garbage
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFO),
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, layout.encode_image(images[0])),
        p.encode_frame(p.REQUEST_SYNC, 0x42, b"zz"),                          # bad command
        p.encode_frame(p.REQUEST_SYNC, p.CMD_LOAD, p.encode_load(0, [1])),    # ROM weights
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, b"\x01"),                 # bad length
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS,
                       layout.encode_image(images[1]))[:-1] + b"\x00",        # bad checksum
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, layout.encode_image(images[1]))[:5],  # cut
        p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(images[2])),
    ]
    got = simulate(make_top(qnet), chunks)
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(got)

    model = BoardModel(qnet, clock_hz=1_000_000, version=BoardTop.PROTOCOL_VERSION,
                       max_batch=1)
    expected = []
    for chunk in chunks:
        expected += p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(chunk) + model.idle())
    assert [status for status, _ in answers] == [status for status, _ in expected] == [
        p.CMD_INFO, p.CMD_INFER, p.STATUS_BAD_COMMAND, p.STATUS_BAD_COMMAND, p.STATUS_BAD_LENGTH,
        p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT, p.CMD_INFER_LOGITS]
    for (status, payload), (_, want) in zip(answers, expected, strict=True):
        if status in (p.CMD_INFER, p.CMD_INFER_LOGITS):
            with_logits = status == p.CMD_INFER_LOGITS
            board = layout.decode_result(payload, with_logits)
            model_result = layout.decode_result(want, with_logits)
            assert board.cls == model_result.cls
            if with_logits:
                assert board.logits.tolist() == model_result.logits.tolist()
            # table accelerator: first pixel at t0, answer valid at t0 + 3 pixels
            # + 1 cycle to WAIT + its latency of 3 (one cycle per count down to 0)
            assert board.cycles == 3 + 1 + 3
        else:
            assert payload == want


def test_spread_of_inputs_of_a_tiny_net():
    qnet = tiny_qnet(0)
    layout = p.Layout.of(qnet)
    images = np.array([[a, b, c] for a in range(4) for b in range(4) for c in range(4)])[::9]
    chunks = [p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(x))
              for x in images]
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(simulate(make_top(qnet), chunks))
    logits, classes = qnet.forward(images)
    results = [layout.decode_result(payload, True) for _, payload in answers]
    assert [r.cls for r in results] == classes.tolist()
    assert np.array_equal(np.array([r.logits for r in results]), logits)


def test_select_is_an_index_with_a_default_past_the_end():
    from amaranth import Module, Signal

    from boards.board_top import _select

    index = Signal(3)
    fallback = Signal(8)
    out = Signal(8)
    m = Module()
    m.d.comb += out.eq(_select(index, [10, 20, 30, 40, 50], fallback))
    sim = Simulator(m)

    async def bench(ctx):
        ctx.set(fallback, 99)
        for k in range(8):
            ctx.set(index, k)
            assert ctx.get(out) == ([10, 20, 30, 40, 50] + [99] * 3)[k]

    sim.add_testbench(bench)
    sim.run()


def test_batch_of_one_and_bench_equal_the_model():
    qnet = tiny_qnet()
    layout = p.Layout.of(qnet)
    images = np.random.default_rng(6).integers(0, 4, size=(2, 3))

    def request(cmd, payload=b""):
        return p.encode_frame(p.REQUEST_SYNC, cmd, payload)

    bench = [request(p.CMD_BENCH, p.encode_bench(n)) for n in (1, 3, 5)]
    chunks = [
        bench[0],                                                     # nothing held
        request(p.CMD_INFER_BATCH, layout.encode_batch(images[:1], logits=True)),
        bench[2],
        request(p.CMD_INFER_BATCH, layout.encode_batch(images, logits=False)),  # 2 > 1
        request(p.CMD_BENCH, bytes(4)),                               # 0 replays
        request(p.CMD_BENCH, b"\x01"),                                # bad length
        request(p.CMD_INFER, layout.encode_image(images[1]))[:-1] + b"\x00",  # damaged
        bench[0],                                                     # nothing held again
        request(p.CMD_INFER_BATCH, layout.encode_batch(images[1:], logits=False)),
        bench[1],
    ]
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(simulate(make_top(qnet), chunks))
    model = BoardModel(qnet, clock_hz=1_000_000, version=BoardTop.PROTOCOL_VERSION,
                       max_batch=1)
    expected = []
    for chunk in chunks:
        expected += p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(chunk) + model.idle())
    assert [status for status, _ in answers] == [status for status, _ in expected] == [
        p.STATUS_NO_IMAGES, p.CMD_INFER_BATCH, p.CMD_BENCH, p.STATUS_BAD_LENGTH, p.CMD_BENCH,
        p.STATUS_BAD_LENGTH, p.STATUS_BAD_CHECKSUM, p.STATUS_NO_IMAGES, p.CMD_INFER_BATCH,
        p.CMD_BENCH]
    batches = [(payload, want) for (status, payload), (_, want) in zip(answers, expected,
                                                                        strict=True)
               if status == p.CMD_INFER_BATCH]
    for (payload, want), logits in zip(batches, (True, False), strict=True):
        board = layout.decode_results(payload, logits, 1)[0]
        model_result = layout.decode_results(want, logits, 1)[0]
        assert board.cls == model_result.cls and board.cycles == 3 + 1 + 3
        if logits:
            assert board.logits.tolist() == model_result.logits.tolist()
    benches = [(p.BenchResult.decode(payload), p.BenchResult.decode(want))
               for (status, payload), (_, want) in zip(answers, expected, strict=True)
               if status == p.CMD_BENCH]
    assert [(b.count, b.checksum) for b, _ in benches] == [
        (m.count, m.checksum) for _, m in benches]
    assert [b.count for b, _ in benches] == [5, 0, 3]
    assert benches[1][0] == p.BenchResult(0, 0, 0)
    # The first image as INFER counts it (7), then 12 cycles per replay: the table
    # accelerator takes an image once its answer was taken, and the 5 answer bytes are
    # checksummed a byte a cycle before that.
    assert [b.cycles for b, _ in benches] == [7 + 4 * 12, 0, 7 + 2 * 12]


def test_without_bench_the_top_speaks_version_2():
    qnet = tiny_qnet()
    layout = p.Layout.of(qnet)
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   accelerator=TableAccelerator(qnet), n_leds=3, bench=False)
    assert top.protocol_version == 2 and top.info.version == 2
    image = np.array([1, 2, 3])
    chunks = [p.encode_frame(p.REQUEST_SYNC, p.CMD_INFO),
              p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, layout.encode_image(image)),
              p.encode_frame(p.REQUEST_SYNC, p.CMD_BENCH, p.encode_bench(2)),
              p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_BATCH,
                             layout.encode_batch(image[None, :], logits=False))]
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(simulate(top, chunks))
    model = BoardModel(qnet, clock_hz=1_000_000, version=2)
    expected = []
    for chunk in chunks:
        expected += p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(chunk) + model.idle())
    assert [status for status, _ in answers] == [p.CMD_INFO, p.CMD_INFER,
                                                 p.STATUS_BAD_COMMAND, p.STATUS_BAD_COMMAND]
    assert answers[0] == expected[0] and p.BoardInfo.decode(answers[0][1]).version == 2
    assert layout.decode_result(answers[1][1], False).cls == qnet.forward(image)[1][0]


def test_a_cnn_board_top_reports_every_qnet_layer_as_the_model_does():
    """INFO lists one folding per QNet layer, the pool and flatten too (as 1:1 in ROM), so
    that a host rebuilds the plans from it with the folding the build was given."""
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=3, stride=1, padding="same", pool=True)
    folding = [(2, 9), (7, 7), (3, 12), (1, 1), (5, 4)]    # the pool's 7:7 is unused
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   folding=folding, bench=True)
    model = BoardModel(qnet, clock_hz=1_000_000, folding=folding,
                       version=BoardTop.PROTOCOL_VERSION, max_batch=1)
    assert top.info == model.info
    assert top.info.folding == [(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)]
    assert top.info.stores == ["rom"] * 5 and not top.info.needs_load
    assert p.BoardInfo.decode(top.info.encode()) == top.info


def test_a_cnn_board_top_with_spram_convolutions_reports_their_stores():
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=3, stride=1, padding="same", pool=True)
    folding = [(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)]
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   folding=folding, weight_store="spram", bench=True)
    model = BoardModel(qnet, clock_hz=1_000_000, folding=folding, weight_store="spram",
                       version=BoardTop.PROTOCOL_VERSION, max_batch=1)
    assert top.loadable and top.info == model.info
    assert top.info.stores == ["spram", "rom", "spram", "rom", "spram"]
    assert top.accelerator.load_map.writes() == model.load_map.writes()


def make_batch_top(qnet, bench, max_batch=3):
    return BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                    accelerator=TableAccelerator(qnet), n_leds=3, bench=bench,
                    max_batch=max_batch)


def batch_session(qnet, bench):
    """Batches of max_batch and of 1, two sent back to back (the second arrives while
    the first is answered), one too many, a damaged one, one cut short, then BENCH
    and an INFER: the top's answers and the model's."""
    layout = p.Layout.of(qnet)
    images = np.random.default_rng(8).integers(0, 4, size=(7, 3))

    def request(cmd, payload=b""):
        return p.encode_frame(p.REQUEST_SYNC, cmd, payload)

    def batch(rows, logits):
        return request(p.CMD_INFER_BATCH, layout.encode_batch(images[rows], logits))

    chunks = [
        request(p.CMD_INFO),
        batch(slice(0, 3), True) + batch(slice(3, 4), False),       # pipelined: 3 then 1
        batch(slice(0, 4), False),                                  # 4 > max_batch
        batch(slice(4, 7), False)[:-1] + b"\x00",                   # damaged
        batch(slice(4, 7), True)[:-3],                              # cut short in an image
        batch(slice(4, 7), True),
        request(p.CMD_BENCH, p.encode_bench(5)),
        request(p.CMD_INFER, layout.encode_image(images[0])),
    ]
    got = simulate(make_batch_top(qnet, bench), chunks)
    model = BoardModel(qnet, clock_hz=1_000_000, version=3, max_batch=3, bench=bench)
    expected = b"".join(model.feed(chunk) + model.idle() for chunk in chunks)
    return got, expected


def test_a_batched_top_answers_as_the_model_does():
    qnet = tiny_qnet()
    got, expected = batch_session(qnet, bench=True)
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(got)
    assert [status for status, _ in answers] == [
        p.CMD_INFO, p.CMD_INFER_BATCH, p.CMD_INFER_BATCH, p.STATUS_BAD_LENGTH,
        p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT, p.CMD_INFER_BATCH, p.CMD_BENCH, p.CMD_INFER]
    assert p.BoardInfo.decode(answers[0][1]).max_batch == 3
    # The table accelerator counts 7 cycles per image, as the model is told; BENCH's
    # cycle count is the board's own, its checksum the QNet's.
    model_frames = p.FrameReader(p.RESPONSE_SYNC).feed(expected)
    for (status, payload), (want_status, want) in zip(answers, model_frames, strict=True):
        assert status == want_status
        if status == p.CMD_BENCH:
            board, model = p.BenchResult.decode(payload), p.BenchResult.decode(want)
            assert (board.count, board.checksum) == (model.count, model.checksum)
        elif status in (p.CMD_INFER_BATCH, p.CMD_INFER):
            size = len(payload) // layout_results(qnet, payload)
            for k in range(0, len(payload), size):
                assert payload[k:k + 2] == want[k:k + 2]          # class
                assert payload[k + 2:k + 6] == (7).to_bytes(4, "little")
                assert payload[k + 6:k + size] == want[k + 6:k + size]   # logits
        else:
            assert payload == want


def layout_results(qnet, payload):
    """How many answers a batch reply of this length holds (with logits or not)."""
    layout = p.Layout.of(qnet)
    for logits in (True, False):
        if len(payload) % layout.result_bytes(logits) == 0:
            return len(payload) // layout.result_bytes(logits)
    raise AssertionError(f"a reply of {len(payload)} bytes")


def test_a_batched_top_without_bench_refuses_bench_only():
    qnet = tiny_qnet()
    got, expected = batch_session(qnet, bench=False)
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(got)
    assert [status for status, _ in answers] == [
        p.CMD_INFO, p.CMD_INFER_BATCH, p.CMD_INFER_BATCH, p.STATUS_BAD_LENGTH,
        p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT, p.CMD_INFER_BATCH, p.STATUS_BAD_COMMAND,
        p.CMD_INFER]
    assert [status for status, _ in p.FrameReader(p.RESPONSE_SYNC).feed(expected)] == [
        status for status, _ in answers]
    info = p.BoardInfo.decode(answers[0][1])
    assert (info.version, info.max_batch) == (3, 3)


def test_a_batch_top_refuses_a_max_batch_a_frame_cannot_hold():
    qnet = tiny_qnet()
    with pytest.raises(ValueError, match="max_batch must be 1 to"):
        make_batch_top(qnet, bench=False, max_batch=0)
    with pytest.raises(ValueError, match="max_batch must be 1 to"):
        make_batch_top(qnet, bench=False, max_batch=p.Layout.of(qnet).frame_batch + 1)


# -- several pixels per beat (the accelerator's in_lanes) ---------------------------------


def lanes_session(qnet, accelerator, chunks, max_batch=3):
    """The answers of a BENCH top of ``max_batch`` around ``accelerator`` (a reset pulse
    for each ``None`` chunk) and the model's, as decoded frames."""
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   accelerator=accelerator, n_leds=3, bench=True, max_batch=max_batch)
    got = simulate(top, chunks, reset=Signal())
    model = BoardModel(qnet, clock_hz=1_000_000, version=3, max_batch=max_batch, bench=True)
    # A reset forgets the request cut short before it: the model never sees it.
    kept = [chunk for chunk, after in zip(chunks, [*chunks[1:], b""], strict=True)
            if chunk is not None and after is not None]
    expected = b"".join(model.feed(chunk) + model.idle() for chunk in kept)
    return (p.FrameReader(p.RESPONSE_SYNC).feed(got),
            p.FrameReader(p.RESPONSE_SYNC).feed(expected))


# 3 pixels: 2 lanes leave the second beat's second lane unused, 3 fill one beat, 4 leave
# three lanes of one beat unused.
@pytest.mark.parametrize("in_lanes", [2, 3, 4])
def test_a_top_feeding_several_pixels_a_beat_answers_as_the_qnet(in_lanes):
    qnet = tiny_qnet(4)                  # its logits depend on every pixel (seed 3's do not)
    layout = p.Layout.of(qnet)
    images = np.random.default_rng(10).integers(0, 4, size=(6, 3))
    assert len({tuple(row) for row in qnet.forward(images)[0]}) == 6     # six answers

    def request(cmd, payload=b""):
        return p.encode_frame(p.REQUEST_SYNC, cmd, payload)

    chunks = [
        request(p.CMD_INFER_LOGITS, layout.encode_image(images[0])),
        request(p.CMD_INFER, layout.encode_image(images[1])),
        request(p.CMD_INFER_BATCH, layout.encode_batch(images[2:5], logits=True)),
        request(p.CMD_BENCH, p.encode_bench(4)),
        # A reset with an image half in: the next image starts afresh in lane 0.
        request(p.CMD_INFER, layout.encode_image(images[0]))[:6], None,
        request(p.CMD_INFER_LOGITS, layout.encode_image(images[5])),
    ]
    answers, expected = lanes_session(qnet, TableAccelerator(qnet, in_lanes=in_lanes), chunks)
    assert [status for status, _ in answers] == [status for status, _ in expected] == [
        p.CMD_INFER_LOGITS, p.CMD_INFER, p.CMD_INFER_BATCH, p.CMD_BENCH, p.CMD_INFER_LOGITS]
    logits, classes = qnet.forward(images)
    results = [layout.decode_result(answers[0][1], True),
               layout.decode_result(answers[1][1], False),
               *layout.decode_results(answers[2][1], True, 3),
               layout.decode_result(answers[4][1], True)]
    order = [0, 1, 2, 3, 4, 5]
    assert [r.cls for r in results] == classes[order].tolist()
    with_logits = [results[k] for k in (0, 2, 3, 4, 5)]
    assert [r.logits.tolist() for r in with_logits] == logits[[0, 2, 3, 4, 5]].tolist()
    # The table accelerator takes a beat a cycle: the image's beats, a cycle to WAIT and
    # its latency of 3, from the first beat offered to the answer.
    beats = -(-3 // in_lanes)
    assert [r.cycles for r in results] == [beats + 4] * 6
    board, model = p.BenchResult.decode(answers[3][1]), p.BenchResult.decode(expected[3][1])
    assert (board.count, board.checksum) == (model.count, model.checksum) and board.count == 4
    # BENCH: the first image as INFER counts it, then per replay its beats, the cycle to
    # WAIT, the latency and the 5 answer bytes checksummed before the answer is taken.
    assert board.cycles == beats + 4 + 3 * (beats + 4 + 5)


# 40 pixels: 4 lanes are 10 full beats, 3 lanes leave two lanes of the last of 14 beats
# unused (the accelerator's regroup drops them). Layer 0 at 6 x 4 lanes takes an image in
# 10 cycles and layer 1 in 2: fed a pixel a beat the engine waits 40 cycles an image for
# its input, fed 3 it waits 14, fed 4 it takes one every 10 cycles.
@pytest.mark.parametrize("in_lanes, interval", [(1, 40), (3, 14), (4, 10)])
def test_the_real_accelerator_fed_several_pixels_a_beat_answers_as_the_qnet(in_lanes,
                                                                            interval):
    from hdl.accelerator import Accelerator
    from hdl.simulate import simulate_accelerator

    qnet = make_qnet(sizes=(40, 6, 4), in_bits=4, seed=11, pow2=True)
    layout = p.Layout.of(qnet)
    images = np.random.default_rng(13).integers(0, 16, size=(3, 40))
    images[0] = 15                              # saturated: every lane's bits set
    folding = [(6, 4), (4, 3)]
    chunks = [p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(x))
              for x in images]
    chunks.append(p.encode_frame(p.REQUEST_SYNC, p.CMD_BENCH, p.encode_bench(5)))
    answers, expected = lanes_session(
        qnet, Accelerator(qnet, folding=folding, in_lanes=in_lanes), chunks, max_batch=1)
    assert [status for status, _ in answers] == [p.CMD_INFER_LOGITS] * 3 + [p.CMD_BENCH]
    logits, classes = qnet.forward(images)
    results = [layout.decode_result(payload, True) for _, payload in answers[:3]]
    assert [r.cls for r in results] == classes.tolist()
    assert [r.logits.tolist() for r in results] == logits.tolist()
    # INFER counts the accelerator's own latency: its first beat in to its answer out.
    alone = simulate_accelerator(Accelerator(qnet, folding=folding, in_lanes=in_lanes),
                                 images[:1])
    latency = int(alone.out_cycles[0]) - alone.first_input_cycle
    assert [r.cycles for r in results] == [latency] * 3
    # BENCH replays the held image at the engine's rate: one latency, then an interval each.
    board, model = p.BenchResult.decode(answers[3][1]), p.BenchResult.decode(expected[3][1])
    assert (board.count, board.checksum) == (model.count, model.checksum)
    assert board.cycles == latency + 4 * interval


def test_the_host_needs_nothing_of_in_lanes_to_load_the_weights():
    """INFO does not report in_lanes: the load image the host rebuilds from INFO's folding
    and stores must be the lanes accelerator's."""
    from hdl.accelerator import Accelerator

    qnet = make_qnet(sizes=(64, 32, 10), in_bits=5, seed=1)
    folding = [(2, 16), (1, 16)]
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   accelerator=Accelerator(qnet, folding=folding, in_lanes=4,
                                           weight_store="spram"), bench=True)
    model = BoardModel(qnet, clock_hz=1_000_000, folding=folding, weight_store="spram",
                       version=BoardTop.PROTOCOL_VERSION, max_batch=1)
    assert top.loadable and top.info == model.info
    assert top.accelerator.load_map.writes() == model.load_map.writes()


def test_pixels_of_two_bytes_land_in_their_lanes():
    """9-bit pixels come as two bytes each: a pixel is written into its lane once its
    high byte is in (8 pixels in 3 beats of 3 lanes, the last beat's third unused)."""
    from hdl.accelerator import Accelerator

    qnet = make_qnet(sizes=(8, 5, 3), in_bits=9, seed=0)
    layout = p.Layout.of(qnet)
    assert layout.pixel_bytes == 2
    # Two images whose answers differ, each from that of its pixels in the wrong lanes.
    images = np.random.default_rng(15).integers(0, 512, size=(2, 8))
    chunks = [p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(x))
              for x in images]
    answers, _ = lanes_session(qnet, Accelerator(qnet, folding=[(5, 4), (3, 5)], in_lanes=3),
                               chunks, max_batch=1)
    logits, classes = qnet.forward(images)
    results = [layout.decode_result(payload, True) for _, payload in answers]
    assert [r.cls for r in results] == classes.tolist()
    assert [r.logits.tolist() for r in results] == logits.tolist()
