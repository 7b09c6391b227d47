import numpy as np
import pytest
from boards_qnets import make_qnet

from boards import protocol as p
from boards.board_model import BoardModel


def test_frame_layout_and_checksum():
    frame = p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, b"\x01\x02\xff")
    assert frame == bytes([0xA5, 0x02, 0x03, 0x00, 0x01, 0x02, 0xFF, (2 + 3 + 1 + 2 + 255) & 0xFF])


def test_frame_reader_skips_garbage_and_splits_frames():
    a = p.encode_frame(p.RESPONSE_SYNC, 1, b"abc")
    b = p.encode_frame(p.RESPONSE_SYNC, 2, b"")
    reader = p.FrameReader(p.RESPONSE_SYNC)
    data = b"\x00\x13" + a + b
    frames = []
    for k in range(len(data)):  # byte by byte: every split point
        frames += reader.feed(data[k:k + 1])
    assert frames == [(1, b"abc"), (2, b"")]
    assert reader.pending == 0


def test_frame_reader_drops_a_bad_checksum_and_counts_it():
    frame = bytearray(p.encode_frame(p.RESPONSE_SYNC, 1, b"x"))
    frame[-1] ^= 1
    reader = p.FrameReader(p.RESPONSE_SYNC)
    assert reader.feed(frame) == []
    assert reader.damaged == 1 and reader.pending == 0


def _garbage_with_syncs(rng):
    """Random bytes of random length with sync bytes sprinkled in (at least one)."""
    garbage = rng.integers(0, 256, size=int(rng.integers(1, 80)), dtype=np.uint8)
    syncs = rng.integers(0, garbage.size, size=int(rng.integers(1, 6)))
    garbage[syncs] = p.RESPONSE_SYNC
    return garbage.tobytes()


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_frame_reader_finds_every_frame_after_garbage_with_sync_bytes(byte_by_byte):
    rng = np.random.default_rng(11)
    recovered = 0
    trials = 300
    for trial in range(trials):
        payload = rng.integers(0, 256, size=int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
        data = _garbage_with_syncs(rng) + p.encode_frame(p.RESPONSE_SYNC, 3, payload)
        reader = p.FrameReader(p.RESPONSE_SYNC)
        if byte_by_byte:
            frames = [f for k in range(len(data)) for f in reader.feed(data[k:k + 1])]
        else:
            frames = reader.feed(data)
        recovered += frames[-1:] == [(3, payload)]
        assert reader.pending == 0, f"trial {trial}: bytes held after the frame"
    assert recovered == trials


def test_frame_reader_keeps_both_valid_frames_around_a_damaged_one():
    first = p.encode_frame(p.RESPONSE_SYNC, 1, b"one")
    damaged = bytearray(p.encode_frame(p.RESPONSE_SYNC, 2, b"two"))
    damaged[5] ^= 0x10
    last = p.encode_frame(p.RESPONSE_SYNC, 3, b"three")
    reader = p.FrameReader(p.RESPONSE_SYNC)
    assert reader.feed(first + damaged + last) == [(1, b"one"), (3, b"three")]
    assert reader.damaged == 1 and reader.pending == 0


def test_frame_reader_skips_a_damaged_length_that_claims_the_next_frame():
    damaged = bytearray(p.encode_frame(p.RESPONSE_SYNC, 2, b"two"))
    damaged[3] = 0xFF                      # now claims ~64 KiB
    last = p.encode_frame(p.RESPONSE_SYNC, 3, b"three")
    reader = p.FrameReader(p.RESPONSE_SYNC)
    assert reader.feed(damaged) == []
    assert reader.feed(last) == [(3, b"three")]
    assert reader.pending == 0


def test_frame_reader_finds_the_frame_after_a_long_run_of_headers_claiming_64k():
    rng = np.random.default_rng(3)
    noise = b"".join(b"\x5a\x01\xff\xff" + rng.integers(0, 256, 40, dtype=np.uint8).tobytes()
                     for _ in range(4000))                        # 176,000 bytes
    frame = p.encode_frame(p.RESPONSE_SYNC, 3, b"answer")
    reader = p.FrameReader(p.RESPONSE_SYNC)
    data = noise + frame
    frames = [f for k in range(0, len(data), 97) for f in reader.feed(data[k:k + 97])]
    assert frames[-1] == (3, b"answer")
    assert reader.pending == 0


def test_frame_reader_joins_a_frame_cut_across_reads():
    frame = p.encode_frame(p.RESPONSE_SYNC, 1, bytes(range(40)))
    reader = p.FrameReader(p.RESPONSE_SYNC)
    assert reader.feed(b"\x5a\x00" + frame[:7]) == []
    assert reader.pending == 2 + 7
    assert reader.feed(frame[7:]) == [(1, bytes(range(40)))]
    assert reader.pending == 0


def test_frame_reader_accept_refuses_headers_at_once():
    # A stray sync whose header the caller knows is impossible is no candidate.
    reader = p.FrameReader(p.RESPONSE_SYNC, accept=lambda code, length: code == 1)
    assert reader.feed(b"\x5a\x07\x00") == []
    assert reader.feed(b"\x10") == [] and reader.pending == 0


def test_oversized_payload_is_an_error():
    with pytest.raises(p.ProtocolError, match="at most 65535"):
        p.encode_frame(p.REQUEST_SYNC, 2, bytes(70000))


@pytest.mark.parametrize("z_bits", [1, 8, 9, 17])
def test_logits_round_trip_at_width_bounds(z_bits):
    layout = p.Layout(n_inputs=4, in_bits=8, n_classes=3, z_bits=z_bits)
    lo, hi = -(1 << (z_bits - 1)), (1 << (z_bits - 1)) - 1
    logits = np.array([lo, hi, 0])
    result = layout.decode_result(layout.encode_result(2, 0xFFFFFFFF, logits), True)
    assert result.cls == 2 and result.cycles == 0xFFFFFFFF
    assert result.logits.tolist() == [lo, hi, 0]


def test_pixels_wider_than_a_byte_take_two():
    layout = p.Layout(n_inputs=2, in_bits=12, n_classes=2, z_bits=8)
    payload = layout.encode_image([0xABC, 1])
    assert payload == bytes([0xBC, 0x0A, 0x01, 0x00])
    assert layout.decode_image(payload).tolist() == [0xABC, 1]


def test_info_round_trip_and_magic():
    qnet = make_qnet()
    info = p.BoardInfo.of(qnet, 30_000_000)
    decoded = p.BoardInfo.decode(info.encode())
    assert decoded == info
    assert decoded.fingerprint == bytes.fromhex(qnet.fingerprint())[:16]
    # An INFO answer from some other bitstream: the same layout under a foreign magic.
    foreign_magic = b"ELSE"
    assert foreign_magic != p.MAGIC
    with pytest.raises(p.ProtocolError, match="mulfree bitstream"):
        p.BoardInfo.decode(foreign_magic + info.encode()[len(p.MAGIC):])


def _answers(model, data):
    return p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(data) + model.idle())


def test_model_answers_like_qnet_forward():
    qnet = make_qnet()
    model = BoardModel(qnet, cycles=77)
    layout = p.Layout.of(qnet)
    image = np.arange(16) % 16
    [(status, payload)] = _answers(
        model, p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_LOGITS, layout.encode_image(image)))
    assert status == p.CMD_INFER_LOGITS
    result = layout.decode_result(payload, True)
    logits, classes = qnet.forward(image)
    assert result.cls == classes[0] and result.cycles == 77
    assert result.logits.tolist() == logits[0].tolist()


@pytest.mark.parametrize("frame, status", [
    (p.encode_frame(p.REQUEST_SYNC, 0x7F, b""), p.STATUS_BAD_COMMAND),
    (p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, bytes(3)), p.STATUS_BAD_LENGTH),
    (p.encode_frame(p.REQUEST_SYNC, p.CMD_INFO, b"x"), p.STATUS_BAD_LENGTH),
    (p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, bytes(16))[:-1] + b"\x00", p.STATUS_BAD_CHECKSUM),
    (p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER, bytes(16))[:10], p.STATUS_TIMEOUT),
])
def test_model_rejects_malformed_requests_then_recovers(frame, status):
    model = BoardModel(make_qnet())
    assert _answers(model, b"\x00\xff" + frame) == [(status, b"")]
    [(ok, payload)] = _answers(model, p.encode_frame(p.REQUEST_SYNC, p.CMD_INFO))
    assert ok == p.CMD_INFO and p.BoardInfo.decode(payload).n_inputs == 16


def test_info_v2_layers_and_flags_round_trip():
    qnet = make_qnet()
    layers = [p.LayerInfo(2, 4, "spram"), p.LayerInfo(300, 1, "rom")]
    info = p.BoardInfo.of(qnet, 12_000_000, layers, loaded=False, version=2)
    raw = info.encode()
    # fixed part, flags (needs load, not loaded), 2 layers, then pe/simd/store per layer
    assert raw[p.INFO_FLAGS_OFFSET:] == bytes([0x01, 2, 2, 0, 4, 0, 2, 0x2C, 0x01, 1, 0, 0])
    assert raw[4] == 2 and info.max_batch == 1
    decoded = p.BoardInfo.decode(raw)
    assert decoded == info
    assert decoded.folding == [(2, 4), (300, 1)] and decoded.stores == ["spram", "rom"]
    assert decoded.needs_load and not decoded.loaded
    loaded = p.BoardInfo.decode(p.BoardInfo.of(qnet, 1, layers, loaded=True).encode())
    assert loaded.flags == 0x03 and loaded.loaded


def test_info_v3_ends_with_max_batch():
    qnet = make_qnet()
    layers = [p.LayerInfo(2, 4, "spram"), p.LayerInfo(300, 1, "rom")]
    info = p.BoardInfo.of(qnet, 12_000_000, layers, max_batch=0x0102)
    raw = info.encode()
    assert raw[4] == p.VERSION == 3
    assert raw[p.INFO_FLAGS_OFFSET:] == bytes([0x01, 2, 2, 0, 4, 0, 2, 0x2C, 0x01, 1, 0, 0,
                                               0x02, 0x01])
    decoded = p.BoardInfo.decode(raw)
    assert decoded == info and decoded.version == 3 and decoded.max_batch == 0x0102
    assert p.BoardInfo.of(qnet, 1).max_batch == p.DEFAULT_MAX_BATCH == 16


@pytest.mark.parametrize("version, mutate, message", [
    (3, lambda raw: raw[:4] + bytes([4]) + raw[5:], "protocol version 4; this host talks "
                                                    "versions 2, 3"),
    (3, lambda raw: raw[:-2] + b"\x00\x00", "max_batch 0"),
    (3, lambda raw: raw[:-1], "expected 47"),       # a v3 answer without its max_batch
    (2, lambda raw: raw[:4] + bytes([3]) + raw[5:], "expected 47"),
])
def test_info_decode_checks_the_version_and_its_length(version, mutate, message):
    raw = p.BoardInfo.of(make_qnet(), 1, [p.LayerInfo(1, 1, "ram")] * 2,
                         version=version).encode()
    with pytest.raises(p.ProtocolError, match=message):
        p.BoardInfo.decode(mutate(raw))


def test_info_of_a_rom_only_bitstream_reads_loaded():
    info = p.BoardInfo.of(make_qnet(), 1, loaded=False)
    assert info.layers == (p.LayerInfo(1, 1, "rom"),) * 2
    assert not info.needs_load and info.loaded and info.flags == p.FLAG_LOADED


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: raw[:4] + bytes([1]) + raw[5:], "protocol version 1; this host talks "
                                                 "versions 2, 3"),
    (lambda raw: raw[:-1], "expected 45"),
    (lambda raw: raw + b"\x00", "expected 45"),
    (lambda raw: raw[:p.INFO_FLAGS_OFFSET] + b"\x04" + raw[p.INFO_FLAGS_OFFSET + 1:],
     "flags 0x04"),
    (lambda raw: raw[:-1] + b"\x03", "weight store code 3"),
    (lambda raw: raw[:3], "expected at least"),
])
def test_info_decode_rejects_bad_answers(mutate, message):
    raw = p.BoardInfo.of(make_qnet(), 1, [p.LayerInfo(1, 1, "ram")] * 2, version=2).encode()
    assert len(raw) == p.INFO_FLAGS_OFFSET + 2 + 2 * 5 == 45
    with pytest.raises(p.ProtocolError, match=message):
        p.BoardInfo.decode(mutate(raw))


def test_load_payload_round_trip_at_the_bounds():
    values = np.array([0, 0xFFFF, 0x1234])
    payload = p.encode_load(0x01020304, values)
    assert payload == bytes([4, 3, 2, 1, 0, 0, 0xFF, 0xFF, 0x34, 0x12])
    start, decoded = p.decode_load(payload)
    assert start == 0x01020304 and decoded.tolist() == values.tolist()
    most = p.encode_load(0xFFFFFFFF - p.MAX_LOAD_SLICES + 1, np.arange(p.MAX_LOAD_SLICES))
    assert len(most) == p.MAX_LOAD_BYTES == 4 + 2 * 1024
    assert p.decode_load(most)[1].tolist() == list(range(1024))


@pytest.mark.parametrize("start, values, message", [
    (0, [], "expected 1 to 1024"),
    (0, np.zeros(1025), "expected 1 to 1024"),
    (-1, [1], "u32"),
    (0xFFFFFFFF, [1, 2], "u32"),
    (0, [0x10000], "0..65535"),
    (0, [-1], "0..65535"),
])
def test_encode_load_rejects(start, values, message):
    with pytest.raises(p.ProtocolError, match=message):
        p.encode_load(start, values)


@pytest.mark.parametrize("length, ok", [(0, False), (4, False), (5, False), (6, True),
                                        (7, False), (2052, True), (2053, False),
                                        (2054, False)])
def test_load_length_bounds(length, ok):
    assert p.load_length_ok(length) is ok
    if not ok:
        with pytest.raises(p.ProtocolError, match="even length from 6 to 2052"):
            p.decode_load(bytes(length))


def test_batch_payload_round_trip_at_the_bounds():
    layout = p.Layout(n_inputs=784, in_bits=8, n_classes=10, z_bits=12)
    assert layout.frame_batch == 83                   # (65535 - 1) // 784
    images = np.arange(83 * 784).reshape(83, 784) % 256
    payload = layout.encode_batch(images, logits=True)
    assert len(payload) == 1 + 83 * 784 and payload[0] == p.BATCH_FLAG_LOGITS
    logits, decoded = layout.decode_batch(payload)
    assert logits is True and decoded.tolist() == images.tolist()
    one = layout.encode_batch(images[:1], logits=False)
    assert one[0] == 0 and layout.decode_batch(one)[1].tolist() == images[:1].tolist()
    assert layout.decode_batch(b"\xfe" + one[1:])[0] is False    # reserved bits ignored
    assert layout.batch_length_ok(1 + 784, 1) and not layout.batch_length_ok(1 + 2 * 784, 1)
    assert not layout.batch_length_ok(1, 83) and not layout.batch_length_ok(784, 83)


@pytest.mark.parametrize("count", [0, 84])
def test_encode_batch_rejects_empty_and_oversized_batches(count):
    layout = p.Layout(n_inputs=784, in_bits=8, n_classes=10, z_bits=12)
    with pytest.raises(p.ProtocolError, match="expected 1 to 83 of 784 pixels"):
        layout.encode_batch(np.zeros((count, 784), dtype=int), logits=False)


@pytest.mark.parametrize("payload, message", [
    (b"\x00" + bytes(17), "whole number of 16-byte images"),
    (b"\x00", "whole number"),
])
def test_decode_batch_rejects(payload, message):
    with pytest.raises(p.ProtocolError, match=message):
        p.Layout.of(make_qnet()).decode_batch(payload)


def test_decode_results_splits_a_batch_answer_and_checks_its_length():
    layout = p.Layout.of(make_qnet())
    answer = (layout.encode_result(1, 70, [-3, 4, 0, 1])
              + layout.encode_result(0, 71, [5, -6, 2, -1]))
    results = layout.decode_results(answer, True, 2)
    assert [(r.cls, r.cycles, r.logits.tolist()) for r in results] == [
        (1, 70, [-3, 4, 0, 1]), (0, 71, [5, -6, 2, -1])]
    with pytest.raises(p.ProtocolError, match="expected 3 answers"):
        layout.decode_results(answer, True, 3)


def test_answer_checksum_is_31h_plus_byte_and_wraps():
    assert p.answer_checksum([b"\x01\x02"]) == 31 + 2
    assert p.answer_checksum([b"\x01", b"\x02"]) == 33            # chunks do not matter
    assert p.answer_checksum([b"\xff" * 8]) == sum(255 * 31 ** k for k in range(8)) % 2**32
    answers = [b"\x03\x00\x09", b"\x01\x00\xf0\xff"]
    for count in (1, 2, 5):
        cycled = [answers[k % 2] for k in range(count)]
        assert p.replay_checksum(answers, count) == p.answer_checksum(cycled)


def test_answer_bytes_are_class_then_logits():
    layout = p.Layout.of(make_qnet())
    logits = [-1, 2, 0, 3]
    assert layout.answer_bytes(1, logits) == b"\x01\x00" + layout.encode_result(1, 0, logits)[6:]
    assert len(layout.answer_bytes(1, logits)) == 2 + 4 * layout.logit_bytes


@pytest.mark.parametrize("replays", [0, 2**32])
def test_encode_bench_rejects_counts_outside_u32(replays):
    with pytest.raises(p.ProtocolError, match="expected 1 to 4294967295"):
        p.encode_bench(replays)


def test_bench_request_and_answer_round_trip():
    assert p.encode_bench(1) == b"\x01\x00\x00\x00"
    assert p.decode_bench(p.encode_bench(2**32 - 1)) == 2**32 - 1
    with pytest.raises(p.ProtocolError, match="expected 4"):
        p.decode_bench(b"\x01\x00\x00")
    assert p.decode_bench(bytes(4)) == 0                    # a board answers zeros
    result = p.BenchResult(7, 2**40 + 3, 0xDEADBEEF)      # cycles past 32 bits
    assert len(result.encode()) == p.BENCH_ANSWER_BYTES == 16
    assert p.BenchResult.decode(result.encode()) == result
    with pytest.raises(p.ProtocolError, match="expected 16"):
        p.BenchResult.decode(result.encode()[:-1])
