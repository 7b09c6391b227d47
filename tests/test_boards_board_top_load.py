"""Weight loading through the serial engine, in Amaranth's simulator, with the real
Accelerator (``weight_store="ram"``): every answer equals the board model's.

The cocotb test of the generated Verilog (Icarus with ``ram``, Verilator with
``spram`` and Yosys's cell model) is in test_boards_board_top_cocotb.py.
"""

import numpy as np
from boards_qnets import make_qnet
from test_boards_board_top import DIVISOR, TIMEOUT, simulate

from boards import protocol as p
from boards.board_model import BoardModel
from boards.board_top import BoardTop
from hdl.accelerator import Accelerator

FOLDING = [(1, 1), (2, 2)]


def request(cmd, payload=b""):
    return p.encode_frame(p.REQUEST_SYNC, cmd, payload)


def load_session(qnet, load_map, images):
    """The requests of a whole session: refused images, a damaged chunk, every
    malformed LOAD, the load, images, a reload."""
    layout = p.Layout.of(qnet)
    regions = load_map.regions()
    chunks = [request(p.CMD_LOAD, p.encode_load(r.start, r.values)) for r in regions]
    damaged = bytearray(chunks[0])
    damaged[9] ^= 0x03                                   # slice 0's high byte
    top = 1 << load_map.address_width
    infer = [request(p.CMD_INFER_LOGITS, layout.encode_image(x)) for x in images]
    return [
        request(p.CMD_INFO),
        infer[0],                                        # NOT_LOADED
        bytes(damaged),                                  # BAD_CHECKSUM (slices written)
        *chunks,
        infer[0],                                        # NOT_LOADED: no LOAD_DONE yet
        request(p.CMD_LOAD, b"\x00\x00\x00\x00\x01"),    # BAD_LENGTH (odd)
        request(p.CMD_LOAD, b"\x00\x00\x00\x00"),        # BAD_LENGTH (no slice)
        request(p.CMD_LOAD, p.encode_load(top - 1, [5, 6])),      # BAD_ADDRESS
        request(p.CMD_LOAD, p.encode_load(1 << 24, [5])),         # BAD_ADDRESS (high byte)
        chunks[0][:9],                                   # TIMEOUT: cut short
        chunks[0],                                       # rewritten after the cut
        request(p.CMD_LOAD_DONE),
        request(p.CMD_INFO),
        *infer,
        chunks[-1],                                      # a reload clears the flag...
        request(p.CMD_INFER, layout.encode_image(images[0])),     # ...NOT_LOADED
        request(p.CMD_LOAD_DONE),
        request(p.CMD_INFER, layout.encode_image(images[1])),
    ]


def test_load_session_equals_the_model():
    qnet = make_qnet(sizes=(3, 4, 3), in_bits=2, seed=3)
    accelerator = Accelerator(qnet, folding=FOLDING, weight_store="ram")
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   accelerator=accelerator, n_leds=3)
    assert top.loadable and top.info.needs_load and top.info.folding == FOLDING
    images = np.array([[0, 0, 0], [3, 3, 3], [1, 2, 3]])
    chunks = load_session(qnet, accelerator.load_map, images)
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(simulate(top, chunks))

    model = BoardModel(qnet, clock_hz=1_000_000, folding=FOLDING, weight_store="ram")
    expected = []
    for chunk in chunks:
        expected += p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(chunk) + model.idle())
    n_regions = len(accelerator.load_map.regions())
    assert [s for s, _ in answers] == [s for s, _ in expected] == [
        p.CMD_INFO, p.STATUS_NOT_LOADED, p.STATUS_BAD_CHECKSUM,
        *[p.CMD_LOAD] * n_regions, p.STATUS_NOT_LOADED, p.STATUS_BAD_LENGTH,
        p.STATUS_BAD_LENGTH, p.STATUS_BAD_ADDRESS, p.STATUS_BAD_ADDRESS, p.STATUS_TIMEOUT,
        p.CMD_LOAD, p.CMD_LOAD_DONE, p.CMD_INFO, *[p.CMD_INFER_LOGITS] * 3,
        p.CMD_LOAD, p.STATUS_NOT_LOADED, p.CMD_LOAD_DONE, p.CMD_INFER]
    infos = [p.BoardInfo.decode(payload) for s, payload in answers if s == p.CMD_INFO]
    assert [(i.needs_load, i.loaded) for i in infos] == [(True, False), (True, True)]
    assert infos[0].stores == ["ram", "ram"]
    layout = p.Layout.of(qnet)
    logits, classes = qnet.forward(images)
    results = [layout.decode_result(payload, True)
               for s, payload in answers if s == p.CMD_INFER_LOGITS]
    assert [r.cls for r in results] == classes.tolist()
    assert np.array_equal(np.array([r.logits for r in results]), logits)
    for (status, payload), (_, want) in zip(answers, expected, strict=True):
        if status not in (p.CMD_INFER, p.CMD_INFER_LOGITS):
            assert payload == want
