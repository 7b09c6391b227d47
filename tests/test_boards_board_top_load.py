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
from boards.tb_load_session import load_session
from hdl.accelerator import Accelerator

FOLDING = [(1, 1), (2, 2)]


def test_load_session_equals_the_model():
    qnet = make_qnet(sizes=(3, 4, 3), in_bits=2, seed=3)
    accelerator = Accelerator(qnet, folding=FOLDING, weight_store="ram")
    top = BoardTop(qnet, divisor=DIVISOR, clock_hz=1_000_000, timeout_cycles=TIMEOUT,
                   accelerator=accelerator, n_leds=3)
    assert top.loadable and top.info.needs_load and top.info.folding == FOLDING
    images = np.array([[0, 0, 0], [3, 3, 3], [1, 2, 3]])
    requests, statuses = load_session(qnet, accelerator.load_map, images)
    answers = p.FrameReader(p.RESPONSE_SYNC).feed(simulate(top, requests))

    model = BoardModel(qnet, clock_hz=1_000_000, folding=FOLDING, weight_store="ram",
                       version=top.protocol_version, max_batch=1)
    expected = []
    for request in requests:
        expected += p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(request) + model.idle())
    assert [s for s, _ in answers] == [s for s, _ in expected] == statuses
    assert model.wrong_slices() == []
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
