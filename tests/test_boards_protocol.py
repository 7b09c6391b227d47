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


def test_frame_reader_rejects_bad_checksum():
    frame = bytearray(p.encode_frame(p.RESPONSE_SYNC, 1, b"x"))
    frame[-1] ^= 1
    with pytest.raises(p.ProtocolError, match="checksum"):
        p.FrameReader(p.RESPONSE_SYNC).feed(frame)


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
