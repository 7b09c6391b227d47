"""The training protocol's messages and the Python model of the training board."""

import numpy as np
import pytest
from qtrain_states import random_input, random_state

from boards import protocol as p
from boards import train_protocol as tp
from boards.train_board_model import TrainBoardModel
from golden_model.qtrain import train_step
from hdl.trainer.plan import bias_words, plan_trainer, shadow_words

FOLDING = [(2, 4), (2, 2)]


def _state(seed=3):
    return random_state(np.random.default_rng(seed), sizes=(16, 8, 4), delta_bits=10)


def _answer(model, cmd, payload=b""):
    frames = p.FrameReader(p.RESPONSE_SYNC).feed(
        model.feed(p.encode_frame(p.REQUEST_SYNC, cmd, payload)) + model.idle())
    assert len(frames) == 1
    return frames[0]


def test_train_info_round_trip_and_refusals():
    plan = plan_trainer(_state(), FOLDING)
    info = tp.TrainInfo.of(plan, 12_000_000)
    decoded = tp.TrainInfo.decode(info.encode())
    assert decoded == info
    assert decoded.folding == FOLDING and decoded.sizes == [16, 8, 4]
    assert info.word_bytes == tp.word_bytes(plan) >= 4
    with pytest.raises(p.ProtocolError, match="MFQN.*training bitstream"):
        tp.TrainInfo.decode(b"MFQN" + info.encode()[4:])
    with pytest.raises(p.ProtocolError, match="of 46 bytes; expected 47"):
        tp.TrainInfo.decode(info.encode()[:-1])
    assert info.spram == ()
    spram = tp.TrainInfo.of(plan_trainer(_state(), FOLDING, spram=(1,)), 12_000_000)
    assert tp.TrainInfo.decode(spram.encode()).spram == (1,)
    # Version 1 bitstreams have no EVAL: the host asks for a rebuild.
    old = info.encode()
    with pytest.raises(p.ProtocolError, match="version 1; this host expects 2 .rebuild"):
        tp.TrainInfo.decode(old[:4] + b"\x01" + old[5:])


def test_plan_fingerprint_changes_with_any_hardware_parameter():
    state = _state()
    base = tp.plan_fingerprint(plan_trainer(state, FOLDING))
    assert tp.plan_fingerprint(plan_trainer(state.copy(), FOLDING)) == base
    assert tp.plan_fingerprint(plan_trainer(state, [(4, 4), (2, 2)])) != base
    other = state.copy()
    other.layers[0].shift = other.layers[0].shift + 1
    assert tp.plan_fingerprint(plan_trainer(other, FOLDING)) != base


def test_model_loads_trains_and_reads_back_like_the_golden_model():
    state = _state()
    model = TrainBoardModel(state, FOLDING)
    plan, n_bytes = model.plan, model.word_bytes
    for k, (lp, layer) in enumerate(zip(plan.layers, state.layers, strict=True)):
        for sel, words in ((2 * k, shadow_words(lp, layer.shadow)),
                           (2 * k + 1, bias_words(lp, layer.bias))):
            for address, word in enumerate(words):
                assert _answer(model, tp.CMD_LOAD_STATE, tp.encode_load_state(
                    sel, address, word, n_bytes)) == (tp.CMD_LOAD_STATE, b"")
    _answer(model, tp.CMD_LOAD_STATE, tp.encode_load_state(4, 0, state.step, n_bytes))
    golden = state.copy()
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, label = random_input(rng, state), int(rng.integers(0, 4))
        # EVAL: the QNet's class for the state so far; the state and step stay.
        status, payload = _answer(model, tp.CMD_EVAL, tp.encode_eval(plan, x))
        assert status == tp.CMD_EVAL
        assert tp.decode_train_result(payload) == (
            golden.to_qnet(meta={}).predict(x[None])[0], plan.eval_cycles_per_sample)
        assert model.state.step == golden.step & 0xFFFFFFFF
        status, payload = _answer(model, tp.CMD_TRAIN, tp.encode_train(plan, x, label))
        assert status == tp.CMD_TRAIN
        assert tp.decode_train_result(payload) == (train_step(golden, x, label)["predicted"],
                                                   plan.cycles_per_sample)
    assert (model.trained, model.evaluated) == (3, 3)
    status, payload = _answer(model, tp.CMD_READ_STATE, tp.encode_read_state(0, 3, 5))
    assert tp.decode_words(payload, n_bytes) == shadow_words(plan.layers[0],
                                                             golden.layers[0].shadow)[3:8]
    status, payload = _answer(model, tp.CMD_READ_STATE, tp.encode_read_state(4, 0, 1))
    assert tp.decode_words(payload, n_bytes) == [(golden.step) & 0xFFFFFFFF]


@pytest.mark.parametrize("cmd, payload, status", [
    (tp.CMD_TRAIN, "label", tp.STATUS_BAD_LABEL),
    (tp.CMD_LOAD_STATE, tp.encode_load_state(5, 0, 0, 11), p.STATUS_BAD_ADDRESS),
    (tp.CMD_LOAD_STATE, tp.encode_load_state(0, 16, 0, 11), p.STATUS_BAD_ADDRESS),
    (tp.CMD_READ_STATE, tp.encode_read_state(1, 0, 0), p.STATUS_BAD_ADDRESS),
    (tp.CMD_READ_STATE, tp.encode_read_state(1, 1, 4), p.STATUS_BAD_ADDRESS),
    (tp.CMD_READ_STATE, b"\x00", p.STATUS_BAD_LENGTH),
    (tp.CMD_EVAL, bytes(18), p.STATUS_BAD_LENGTH),      # an image and a label
    (tp.CMD_EVAL, bytes(15), p.STATUS_BAD_LENGTH),
    (p.CMD_INFO, b"", p.STATUS_BAD_COMMAND),
])
def test_model_refuses_bad_requests_without_training(cmd, payload, status):
    state = _state()
    model = TrainBoardModel(state, FOLDING)
    assert model.word_bytes == 11          # the payloads above are for this width
    if payload == "label":
        payload = tp.encode_train(model.plan, np.zeros(16, dtype=int), 4)
    assert _answer(model, cmd, payload) == (status, b"")
    assert model.trained == model.evaluated == 0 and model.state.step == 0
