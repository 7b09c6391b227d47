"""The training board top's protocol engine in Python, on the QTrain golden model.

:class:`TrainBoardModel` answers bytes as :class:`boards.train_top.TrainTop`
does (see :mod:`boards.train_protocol`), with
:func:`golden_model.qtrain.train_step` in place of the trainer. The host
(:mod:`boards.train_host`) is tested against it through
:class:`boards.board_model.FakeSerial`, and the gateware's answers are
compared with it under cocotb.
"""

import numpy as np

from boards import protocol as p
from boards import train_protocol as tp
from boards.request_receiver import RequestReceiver
from golden_model.qtrain import train_step
from golden_model.qtrain.step import forward
from hdl.trainer.plan import bias_words, plan_trainer, shadow_words

__all__ = ["TrainBoardModel", "predict"]


def _lanes(word, n, bits):
    """The ``n`` two's-complement lanes of ``bits`` bits of a memory word."""
    raw = [(word >> (lane * bits)) & ((1 << bits) - 1) for lane in range(n)]
    return [value - (1 << bits) if value >> (bits - 1) else value for value in raw]


def _result(cls, cycles):
    return int(cls).to_bytes(2, "little") + (int(cycles) & 0xFFFFFFFF).to_bytes(4, "little")


def predict(state, pixels):
    """The class of the QTrain forward with the deterministic weights (what EVAL answers)."""
    weights = [state.deterministic_weights(k) for k in range(len(state.layers))]
    return int(np.argmax(forward(state, pixels, weights)[-1]["z"]))


class TrainBoardModel(RequestReceiver):
    """Protocol engine of the training board top, with the golden model as the trainer.

    Parameters
    ----------
    state : QTrainState
        Fixes the network and the QTrain parameters "built into the
        bitstream"; like the board's memories after power-up, the model's
        shadows, biases and step start at zero.
    folding : sequence of (PE, SIMD)
    spram : iterable of int
        Layers whose shadows are in SPRAM (reported by ``TRAIN_INFO``).
    clock_hz : int
        Reported by ``TRAIN_INFO``.
    cycles : int, optional
        Reported with each TRAIN answer (default the plan's cycles per sample).
    eval_cycles : int, optional
        Reported with each EVAL answer (default the plan's).
    after_train : callable, optional
        ``after_train(state, n)`` after the ``n``-th TRAIN step (a faulty board).

    Members
    -------
    state : QTrainState
        What the board's memories hold.
    """

    def __init__(self, state, folding, clock_hz=12_000_000, cycles=None, after_train=None,
                 eval_cycles=None, spram=()):
        self.plan = plan_trainer(state, folding, spram)
        self.state = state.copy()
        for layer in self.state.layers:
            layer.shadow = np.zeros_like(layer.shadow)
            layer.bias = np.zeros_like(layer.bias)
        self.state.step = 0
        self.clock_hz = int(clock_hz)
        self.cycles = self.plan.cycles_per_sample if cycles is None else int(cycles)
        self.eval_cycles = (self.plan.eval_cycles_per_sample if eval_cycles is None
                            else int(eval_cycles))
        self.evaluated = 0
        self.after_train = after_train
        self.trained = 0
        self.word_bytes = tp.word_bytes(self.plan)
        self.depths = tp.memory_depths(self.plan)
        self._lengths = {tp.CMD_TRAIN_INFO: 0, tp.CMD_LOAD_STATE: 3 + self.word_bytes,
                         tp.CMD_READ_STATE: 5, tp.CMD_TRAIN: tp.train_request_bytes(self.plan),
                         tp.CMD_EVAL: tp.eval_request_bytes(self.plan)}
        self._reset()

    @property
    def info(self):
        return tp.TrainInfo.of(self.plan, self.clock_hz)

    def _commands(self):
        return self._lengths

    def _length_ok(self, cmd, length):
        return length == self._lengths[cmd]

    def _answer(self, cmd, payload):
        status, body = self._execute(cmd, payload)
        return p.encode_frame(p.RESPONSE_SYNC, status, body)

    def _execute(self, cmd, payload):
        if cmd == tp.CMD_TRAIN_INFO:
            return cmd, self.info.encode()
        if cmd == tp.CMD_LOAD_STATE:
            sel, address = int(payload[0]), int.from_bytes(payload[1:3], "little")
            if sel >= len(self.depths) or address >= self.depths[sel]:
                return p.STATUS_BAD_ADDRESS, b""
            self._write(sel, address, int.from_bytes(payload[3:], "little"))
            return cmd, b""
        if cmd == tp.CMD_READ_STATE:
            sel, address, count = (int(payload[0]), int.from_bytes(payload[1:3], "little"),
                                   int.from_bytes(payload[3:5], "little"))
            if (sel >= len(self.depths) or count == 0 or count > tp.max_read_words(self.plan)
                    or address + count > self.depths[sel]):
                return p.STATUS_BAD_ADDRESS, b""
            words = self.words(sel)[address:address + count]
            return cmd, b"".join(tp.encode_word(w, self.word_bytes) for w in words)
        if cmd == tp.CMD_EVAL:
            pixels = tp.decode_eval(self.plan, payload) & ((1 << self.plan.input_bits) - 1)
            self.evaluated += 1
            return cmd, _result(predict(self.state, pixels), self.eval_cycles)
        pixels, label = tp.decode_train(self.plan, payload)
        if label >= self.plan.n_classes:
            return tp.STATUS_BAD_LABEL, b""
        # The image memory is input_bits wide: higher bits of a pixel are dropped.
        pixels = pixels & ((1 << self.plan.input_bits) - 1)
        result = train_step(self.state, pixels, label)
        self.state.step &= 0xFFFFFFFF
        self.trained += 1
        if self.after_train is not None:
            self.after_train(self.state, self.trained)
        return cmd, _result(result["predicted"], self.cycles)

    def words(self, sel):
        """Memory ``sel`` as the board holds it (one int per address)."""
        if sel == len(self.depths) - 1:
            return [self.state.step & 0xFFFFFFFF]
        k, is_bias = divmod(sel, 2)
        lp, layer = self.plan.layers[k], self.state.layers[k]
        return bias_words(lp, layer.bias) if is_bias else shadow_words(lp, layer.shadow)

    def _write(self, sel, address, word):
        if sel == len(self.depths) - 1:
            self.state.step = word & 0xFFFFFFFF
            return
        k, is_bias = divmod(sel, 2)
        lp, layer = self.plan.layers[k], self.state.layers[k]
        if is_bias:
            layer.bias[address * lp.pe:(address + 1) * lp.pe] = \
                _lanes(word, lp.pe, lp.bias_bits)
        else:
            rg, cg = divmod(address, lp.column_groups)
            tile = np.array(_lanes(word, lp.pe * lp.simd, lp.shadow_bits))
            layer.shadow[rg * lp.pe:(rg + 1) * lp.pe, cg * lp.simd:(cg + 1) * lp.simd] = \
                tile.reshape(lp.pe, lp.simd)
