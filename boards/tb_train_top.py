"""cocotb testbench of the training board top (generated Verilog, real Trainer).

The host side is ``cocotbext-uart``; every answer must equal the one of
:class:`boards.train_board_model.TrainBoardModel` (the QTrain golden model
behind the same protocol), and the state read back after the samples must
equal the golden model's bit for bit. The pytest side
(tests/test_boards_train_top_cocotb.py) writes a JSON config and points
``MULFREE_TRAIN_TB`` at it: the state file, the folding, the samples, the
clock period, the UART divisor and the idle timeout in cycles.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, Timer

from boards import protocol as p
from boards import train_protocol as tp
from boards.tb_board_top import start_board
from boards.train_board_model import TrainBoardModel
from golden_model.qtrain import train_step
from golden_model.qtrain.state_file import load_state
from hdl.trainer.plan import bias_from_words, bias_words, shadow_from_words, shadow_words
from hdl.trainer.simulate import state_mismatches


def _request(cmd, payload=b""):
    return p.encode_frame(p.REQUEST_SYNC, cmd, payload)


class _Link:
    """One request at a time to the board and the model; their answers must be equal."""

    def __init__(self, dut, config, source, sink, model):
        self.dut, self.config, self.source, self.sink = dut, config, source, sink
        self.model = model
        self.reader = p.FrameReader(p.RESPONSE_SYNC)
        self.cycles = {tp.CMD_TRAIN: [], tp.CMD_EVAL: []}

    async def exchange(self, message, label):
        expected = p.FrameReader(p.RESPONSE_SYNC).feed(self.model.feed(message)
                                                       + self.model.idle())
        await self.source.write(message)
        await self.source.wait()
        frames = []
        quiet = self.config["timeout_cycles"] + 20 * self.config["divisor"]
        waited = 0
        while waited < self.config["max_answer_cycles"]:
            await ClockCycles(self.dut.clk, quiet)
            waited += quiet
            frames += self.reader.feed(self.sink.read_nowait())
            if frames and self.sink.empty() and not self.reader.pending:
                break
        statuses = [hex(f[0]) for f in frames]
        assert statuses == [hex(f[0]) for f in expected], \
            f"{label}: statuses {statuses}, expected {[hex(f[0]) for f in expected]}"
        for (status, payload), (_, want) in zip(frames, expected, strict=True):
            if status in (tp.CMD_TRAIN, tp.CMD_EVAL):
                cls, cycles = tp.decode_train_result(payload)
                assert cls == tp.decode_train_result(want)[0], f"{label}: class {cls}"
                self.cycles[status].append(cycles)
            else:
                assert payload == want, f"{label}: {payload.hex()}, expected {want.hex()}"
        return frames


async def _read_state(link, plan, template, label):
    """The whole state through READ_STATE, one memory per request."""
    n_bytes = tp.word_bytes(plan)
    got = template.copy()
    images = []
    for sel, depth in enumerate(tp.memory_depths(plan)):
        frames = await link.exchange(_request(tp.CMD_READ_STATE,
                                              tp.encode_read_state(sel, 0, depth)),
                                     f"{label} READ_STATE {sel}")
        images.append(tp.decode_words(frames[0][1], n_bytes))
    for k, lp in enumerate(plan.layers):
        got.layers[k].shadow = shadow_from_words(lp, images[2 * k])
        got.layers[k].bias = bias_from_words(lp, images[2 * k + 1])
    got.step = images[-1][0]
    return got


@cocotb.test()
async def train_and_read_back(dut):
    """Load a state, train on samples with evaluations between them, read every word
    back: equal to the golden model (the evaluations change nothing); then malformed
    requests, each answered with its error and the state unchanged."""
    config = json.loads(Path(os.environ["MULFREE_TRAIN_TB"]).read_text())
    state = load_state(config["state"])
    folding = [tuple(pair) for pair in config["folding"]]
    images = np.array(config["images"], dtype=np.int64)
    labels = np.array(config["labels"], dtype=np.int64)
    model = TrainBoardModel(state, folding, clock_hz=config["clock_hz"],
                            cycles=config["cycles"])
    plan, n_bytes = model.plan, model.word_bytes
    source, sink = await start_board(dut, config)
    link = _Link(dut, config, source, sink, model)

    await link.exchange(_request(tp.CMD_TRAIN_INFO), "TRAIN_INFO")
    for k, (lp, layer) in enumerate(zip(plan.layers, state.layers, strict=True)):
        for sel, words in ((2 * k, shadow_words(lp, layer.shadow)),
                           (2 * k + 1, bias_words(lp, layer.bias))):
            for address, word in enumerate(words):
                await link.exchange(_request(tp.CMD_LOAD_STATE, tp.encode_load_state(
                    sel, address, word, n_bytes)), f"LOAD_STATE {sel}/{address}")
    step_sel = len(model.depths) - 1
    await link.exchange(_request(tp.CMD_LOAD_STATE, tp.encode_load_state(
        step_sel, 0, state.step & 0xFFFFFFFF, n_bytes)), "LOAD_STATE step")

    golden = state.copy()
    for n, (image, label) in enumerate(zip(images, labels, strict=True)):
        # EVAL before each TRAIN: the deterministic forward of the state so far,
        # on this image and on the one before; neither changes the state.
        for e, other in enumerate((image, images[n - 1])):
            frames = await link.exchange(_request(tp.CMD_EVAL, tp.encode_eval(plan, other)),
                                         f"EVAL {n}.{e}")
            want = int(golden.to_qnet(meta={}).predict(other[None])[0])
            assert tp.decode_train_result(frames[0][1])[0] == want, f"EVAL {n}.{e}: class"
        frames = await link.exchange(_request(tp.CMD_TRAIN, tp.encode_train(plan, image, label)),
                                     f"TRAIN {n}")
        want = train_step(golden, image, int(label))["predicted"]
        assert tp.decode_train_result(frames[0][1])[0] == want, f"TRAIN {n}: class"
    await link.exchange(_request(tp.CMD_EVAL, tp.encode_eval(plan, images[-1])), "EVAL last")
    got = await _read_state(link, plan, state, "after training")
    assert state_mismatches(golden, got) == []

    train0 = _request(tp.CMD_TRAIN, tp.encode_train(plan, images[0], labels[0]))
    malformed = [
        b"\x00\x13\x37\xff",                                               # garbage
        _request(0x44, b"ab"),                                             # bad command
        _request(tp.CMD_TRAIN, tp.encode_train(plan, images[0], 0)[:-1]),  # bad length
        train0[:-1] + bytes([(train0[-1] + 1) & 0xFF]),                    # bad checksum
        train0[:7],                                                        # cut short
        _request(tp.CMD_TRAIN, tp.encode_train(plan, images[0], plan.n_classes)),  # label
        _request(tp.CMD_EVAL, tp.encode_train(plan, images[0], 0)),       # EVAL with a label
        _request(tp.CMD_LOAD_STATE, tp.encode_load_state(step_sel + 1, 0, 0, n_bytes)),
        _request(tp.CMD_LOAD_STATE, tp.encode_load_state(0, plan.layers[0].depth, 0,
                                                         n_bytes)),
        _request(tp.CMD_READ_STATE, tp.encode_read_state(0, 0, 0)),
        _request(tp.CMD_READ_STATE, tp.encode_read_state(1, 1, plan.layers[0].row_groups)),
    ]
    for k, message in enumerate(malformed):
        frames = await link.exchange(message, f"malformed {k}")
        # Every one but the garbage (no frame, no answer) gets one error status.
        assert [f[0] in tp.TRAIN_COMMANDS for f in frames] == ([False] if k else []), \
            f"malformed {k}: answers {[hex(f[0]) for f in frames]}"
    got = await _read_state(link, plan, state, "after malformed requests")
    assert state_mismatches(golden, got) == []
    Path("cycles.json").write_text(json.dumps({"train": link.cycles[tp.CMD_TRAIN],
                                                "eval": link.cycles[tp.CMD_EVAL]}))
    await Timer(1, "ns")
