"""cocotb testbench of the UART board top (generated Verilog, real Accelerator).

The host side is ``cocotbext-uart``; the expected answers come from
:class:`boards.board_model.BoardModel`, i.e. from ``QNet.forward``. The
pytest side (tests/test_boards_board_top_cocotb*.py) writes a JSON config
and points ``MULFREE_BOARD_TB`` at it: the QNet file, the images, the clock
period, the UART divisor, the idle timeout in cycles, and the accelerator's
``folding``, ``weight_store`` and ``in_lanes``. ``images_and_malformed_frames`` is for a
bitstream with its weights built in, ``weight_load_session`` for one that
loads them (:func:`boards.tb_load_session.load_session`), and
``end_to_end_rate`` times a run of images the way a host streams them.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from boards import protocol as p
from boards.board_model import BoardModel
from boards.board_top import BoardTop
from boards.tb_load_session import load_session
from golden_model.qnet import QNet


def _config():
    config = json.loads(Path(os.environ["MULFREE_BOARD_TB"]).read_text())
    qnet = QNet.load(config["qnet"])
    return config, qnet, np.array(config["images"], dtype=np.int64)


def _model(config, qnet):
    """The board model of the bitstream under test (its INFO reports the folding)."""
    bench, max_batch = config.get("bench", True), config.get("max_batch", 1)
    batch = bench or max_batch > 1
    return BoardModel(qnet, clock_hz=config["clock_hz"], folding=config.get("folding"),
                      weight_store=config.get("weight_store"),
                      version=BoardTop.PROTOCOL_VERSION if batch else 2, max_batch=max_batch,
                      bench=bench)


async def start_board(dut, config):
    """Clock, UART source and sink at the configured rate, and a reset; returns
    ``(source, sink)``."""
    period = config["clock_period_ns"]
    cocotb.start_soon(Clock(dut.clk, period, unit="ns").start())
    baud = 1e9 / (period * config["divisor"])
    source = UartSource(dut.rx, baud=baud)
    sink = UartSink(dut.tx, baud=baud)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 5)
    return source, sink


async def _exchange(dut, config, source, sink, request, reader):
    """Send one request, wait past the idle timeout, return the answers that came."""
    await source.write(request)
    await source.wait()
    frames = []
    quiet = config["timeout_cycles"] + 2 * 10 * config["divisor"]
    waited = 0
    limit = config["max_answer_cycles"]
    while waited < limit:
        await ClockCycles(dut.clk, quiet)
        waited += quiet
        new = reader.feed(sink.read_nowait())
        frames += new
        if frames and sink.empty() and not reader.pending:
            break
    return frames


def _check(frames, expected, layout, label, cycles_seen):
    assert [f[0] for f in frames] == [f[0] for f in expected], (
        f"{label}: statuses {[hex(f[0]) for f in frames]}, expected "
        f"{[hex(f[0]) for f in expected]}")
    for (status, payload), (_, want) in zip(frames, expected, strict=True):
        if status in (p.CMD_INFER, p.CMD_INFER_LOGITS):
            logits = status == p.CMD_INFER_LOGITS
            board = layout.decode_result(payload, logits)
            model = layout.decode_result(want, logits)
            assert board.cls == model.cls, f"{label}: class {board.cls}, QNet {model.cls}"
            if logits:
                assert board.logits.tolist() == model.logits.tolist(), (
                    f"{label}: logits {board.logits.tolist()}, QNet {model.logits.tolist()}")
            cycles_seen.append(board.cycles)
        else:
            assert payload == want, f"{label}: payload {payload.hex()}, expected {want.hex()}"


@cocotb.test()
async def images_and_malformed_frames(dut):
    """Real images, then every kind of malformed request, each followed by a good one."""
    config, qnet, images = _config()
    layout = p.Layout.of(qnet)
    model = _model(config, qnet)
    source, sink = await start_board(dut, config)
    reader = p.FrameReader(p.RESPONSE_SYNC)
    cycles_seen = []

    def request(cmd, payload=b""):
        return p.encode_frame(p.REQUEST_SYNC, cmd, payload)

    good = [request(p.CMD_INFO)]
    for k, image in enumerate(images):
        cmd = p.CMD_INFER_LOGITS if k % 2 == 0 else p.CMD_INFER
        good.append(request(cmd, layout.encode_image(image)))
    image0 = layout.encode_image(images[0])
    malformed = [
        b"\x00\x13\x37\xff",                                   # garbage bytes alone
        request(0x44, b"ab"),                                  # bad command
        request(p.CMD_INFER, image0[:-1]),                     # bad length (short)
        request(p.CMD_INFER, image0 + b"\x05"),                # bad length (long)
        request(p.CMD_INFO, b"\x01"),                          # INFO with a payload
        request(p.CMD_INFER, image0)[:-1] + bytes([(request(p.CMD_INFER, image0)[-1] + 1)
                                                   & 0xFF]),   # bad checksum
        request(p.CMD_INFER, image0)[:7],                      # cut short
        b"\xa5" + b"\xa5" * 3,                                 # sync bytes as a header
    ]
    sequence = list(good)
    for k, bad in enumerate(malformed):
        sequence += [bad, good[1 + k % (len(good) - 1)]]
    for k, message in enumerate(sequence):
        expected = p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(message) + model.idle())
        frames = await _exchange(dut, config, source, sink, message, reader)
        _check(frames, expected, layout, f"request {k} ({message[:6].hex()}…)", cycles_seen)
    # The cycle count is the accelerator's: the same for every image, at least the beats.
    assert len(set(cycles_seen)) == 1, f"cycle counts differ: {sorted(set(cycles_seen))}"
    assert cycles_seen[0] >= -(-layout.n_inputs // config.get("in_lanes", 1))
    Path("cycles.json").write_text(json.dumps(cycles_seen))
    await Timer(1, "ns")


@cocotb.test()
async def weight_load_session(dut):
    """Images refused before the load, damaged and malformed chunks, the load, real
    images bit-exact, a reload; every answer equal to the board model's."""
    config, qnet, images = _config()
    layout = p.Layout.of(qnet)
    model = _model(config, qnet)
    assert model.load_map is not None, "weight_load_session needs a loadable weight_store"
    source, sink = await start_board(dut, config)
    reader = p.FrameReader(p.RESPONSE_SYNC)
    cycles_seen = []
    requests, statuses = load_session(qnet, model.load_map, images)
    got = []
    for k, message in enumerate(requests):
        expected = p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(message) + model.idle())
        frames = await _exchange(dut, config, source, sink, message, reader)
        _check(frames, expected, layout, f"request {k} ({message[:6].hex()}…)", cycles_seen)
        got += [status for status, _ in frames]
    assert got == statuses, f"statuses {[hex(s) for s in got]}"
    assert model.wrong_slices() == []
    assert len(set(cycles_seen)) == 1, f"cycle counts differ: {sorted(set(cycles_seen))}"
    Path("cycles.json").write_text(json.dumps(cycles_seen))
    await Timer(1, "ns")


@cocotb.test()
async def end_to_end_rate(dut):
    """The images as a host sends them, each request as soon as the last answer is in:
    every answer equal to the QNet's (class and logits), and the clock cycles from the
    first request byte to the last answer byte written to ``rate.json``; then a BENCH
    of the last image, its checksum equal to the QNet's, its cycles written too."""
    config, qnet, images = _config()
    layout = p.Layout.of(qnet)
    model = _model(config, qnet)
    source, sink = await start_board(dut, config)
    reader = p.FrameReader(p.RESPONSE_SYNC)
    cycles_seen = []
    start_ns = get_sim_time("ns")
    for k, image in enumerate(images):
        request = p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(image))
        expected = p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(request))
        await source.write(request)
        frames = []
        while not frames:
            frames = reader.feed(await sink.read())
        _check(frames, expected, layout, f"image {k}", cycles_seen)
    elapsed = (get_sim_time("ns") - start_ns) / config["clock_period_ns"]
    # BENCH: the last image again, back to back, checked by the answers' checksum.
    replays = config["bench_replays"]
    request = p.encode_frame(p.REQUEST_SYNC, p.CMD_BENCH, p.encode_bench(replays))
    [(_, want)] = p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(request))
    await source.write(request)
    frames = []
    while not frames:
        frames = reader.feed(await sink.read())
    [(status, payload)] = frames
    assert status == p.CMD_BENCH, f"BENCH answered status 0x{status:02x}"
    bench, expected = p.BenchResult.decode(payload), p.BenchResult.decode(want)
    assert (bench.count, bench.checksum) == (expected.count, expected.checksum), (
        f"BENCH {bench}, the QNet's {expected}")
    Path("rate.json").write_text(json.dumps({"images": len(images), "cycles": elapsed,
                                             "engine_cycles": cycles_seen,
                                             "bench_cycles": bench.cycles}))
    await Timer(1, "ns")


@cocotb.test()
async def batched_end_to_end(dut):
    """Batches of ``max_batch`` images with logits, two requests in flight as
    :meth:`boards.host.BoardClient.infer_stream` sends them: every answer equal to the
    QNet's, and the times the replies ended written to ``batched.json``; then a batch
    of one, one of ``max_batch + 1`` (refused), ``BENCH`` over the held batch (checksum
    equal to the QNet's), a reset in the middle of a batch and a batch after it."""
    config, qnet, images = _config()
    layout = p.Layout.of(qnet)
    batch = config["max_batch"]
    source, sink = await start_board(dut, config)
    reader = p.FrameReader(p.RESPONSE_SYNC)
    frames = []
    period = config["clock_period_ns"]

    async def next_frame():
        while not frames:
            frames.extend(reader.feed(await sink.read()))
        return frames.pop(0)

    def request(cmd, payload=b""):
        return p.encode_frame(p.REQUEST_SYNC, cmd, payload)

    def check(frame, chunk, label):
        status, payload = frame
        assert status == p.CMD_INFER_BATCH, f"{label}: status 0x{status:02x}"
        results = layout.decode_results(payload, True, len(chunk))
        logits, classes = qnet.forward(chunk)
        for k, result in enumerate(results):
            assert result.cls == classes[k], f"{label}, image {k}: class {result.cls}"
            assert result.logits.tolist() == logits[k].tolist(), f"{label}, image {k}: logits"
        return [result.cycles for result in results]

    # The stream.
    chunks = [images[k:k + batch] for k in range(0, len(images), batch)]
    start = get_sim_time("ns")
    in_flight, ends, cycles = [], [], []
    for index, chunk in enumerate(chunks):
        await source.write(request(p.CMD_INFER_BATCH, layout.encode_batch(chunk, True)))
        in_flight.append(index)
        last = index == len(chunks) - 1
        while len(in_flight) == 2 or (last and in_flight):
            done = in_flight.pop(0)
            cycles += check(await next_frame(), chunks[done], f"batch {done}")
            ends.append((get_sim_time("ns") - start) / period)
    # A batch of one, then one too many (answered once the line is quiet).
    one = images[:1]
    await source.write(request(p.CMD_INFER_BATCH, layout.encode_batch(one, True)))
    cycles += check(await next_frame(), one, "a batch of one")
    chunk = chunks[0]
    await source.write(request(p.CMD_INFER_BATCH, layout.encode_batch(chunk, False)))
    status, payload = await next_frame()                  # classes only
    assert status == p.CMD_INFER_BATCH
    classes = [r.cls for r in layout.decode_results(payload, False, len(chunk))]
    assert classes == qnet.forward(chunk)[1].tolist()
    too_many = layout.encode_batch(images[:batch + 1], False)
    await source.write(request(p.CMD_INFER_BATCH, too_many))
    status, _ = await next_frame()
    assert status == p.STATUS_BAD_LENGTH, f"{batch + 1} images: status 0x{status:02x}"
    # BENCH replays the last good batch (chunks[0], the one before the refused frame).
    replays = 2 * batch + 1
    await source.write(request(p.CMD_BENCH, p.encode_bench(replays)))
    status, payload = await next_frame()
    assert status == p.CMD_BENCH, f"BENCH: status 0x{status:02x}"
    logits, classes = qnet.forward(chunk)
    answers = [layout.answer_bytes(c, z) for c, z in zip(classes, logits, strict=True)]
    bench = p.BenchResult.decode(payload)
    assert (bench.count, bench.checksum) == (replays, p.replay_checksum(answers, replays)), (
        f"BENCH {bench}")
    # A reset in the middle of a batch: nothing of it is answered, nothing held.
    cut = request(p.CMD_INFER_BATCH, layout.encode_batch(chunk, True))
    await source.write(cut[:len(cut) // 2])
    await source.wait()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 5)
    await source.write(request(p.CMD_BENCH, p.encode_bench(1)))
    status, _ = await next_frame()
    assert status == p.STATUS_NO_IMAGES, f"BENCH after the reset: status 0x{status:02x}"
    await source.write(request(p.CMD_INFER_BATCH, layout.encode_batch(chunk, True)))
    cycles += check(await next_frame(), chunk, "the batch after the reset")
    await ClockCycles(dut.clk, config["timeout_cycles"] + 20 * 10 * config["divisor"])
    assert not frames and not reader.feed(sink.read_nowait()), "an answer after the last"
    Path("batched.json").write_text(json.dumps({"ends": ends, "batch": batch,
                                                "images": len(images), "cycles": cycles,
                                                "bench_cycles": bench.cycles}))
    await Timer(1, "ns")
