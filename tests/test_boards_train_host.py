"""The training host against the Python training board behind a fake serial port."""

import numpy as np
import pytest
from boards_qnets import make_qnet
from qtrain_states import random_state

from boards import protocol as p
from boards import train_protocol as tp
from boards.board_model import BoardModel, FakeSerial
from boards.host import HostError
from boards.train_board_model import TrainBoardModel
from boards.train_host import StateMismatch, TrainClient, TrainerMismatch, train_on_board
from golden_model.qtrain.epochs import accuracy, run_epoch
from golden_model.qtrain.state_file import load_state
from hdl.trainer.plan import plan_trainer
from hdl.trainer.simulate import state_mismatches
from mulfree.cli import main

FOLDING = [(2, 4), (2, 2)]
N = 12


def _setup(seed=2, **kwargs):
    rng = np.random.default_rng(seed)
    state = random_state(rng, sizes=(16, 8, 4), delta_bits=10, **kwargs)
    x = rng.integers(0, 1 << state.input.bits, (N, 16))
    y = rng.integers(0, 4, N)
    return state, x, y


def _golden(state, x, y, epochs):
    golden, accs = state.copy(), []
    for _ in range(epochs):
        accs.append(run_epoch(golden, x, y)[1])
    return golden, accs


def test_two_epochs_on_the_board_equal_the_golden_model():
    state, x, y = _setup()
    golden, accs = _golden(state, x, y, 2)
    model = TrainBoardModel(state, FOLDING)
    seen = []
    report = train_on_board(TrainClient(FakeSerial(model)), state, x, y, 2,
                            on_epoch=lambda r: seen.append(list(r.train_acc)))
    assert state_mismatches(golden, report.state) == []
    assert state_mismatches(golden, model.state) == []
    assert report.train_acc == pytest.approx(accs) and seen == [accs[:1], accs]
    assert (report.samples, report.resent) == (2 * N, 0)
    assert report.cycles == [model.plan.cycles_per_sample] * 2 * N
    assert report.val_acc == [] and np.isnan(report.test_acc) and model.evaluated == 0


def _split(seed=7, n=10):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 16, (n, 16)), rng.integers(0, 4, n)


def test_validation_and_test_accuracy_are_measured_on_the_board_with_eval():
    state, x, y = _setup()
    x_val, y_val = _split(7)
    x_test, y_test = _split(8, 6)
    golden, val = state.copy(), []
    for _ in range(2):
        run_epoch(golden, x, y)
        val.append(accuracy(golden, x_val, y_val))
    model = TrainBoardModel(state, FOLDING)
    report = train_on_board(TrainClient(FakeSerial(model)), state, x, y, 2, x_val=x_val,
                            y_val=y_val, x_test=x_test, y_test=y_test)
    assert report.val_acc == pytest.approx(val)
    assert report.test_acc == pytest.approx(accuracy(golden, x_test, y_test))
    # Every validation image once per epoch, every test image once, all on the board;
    # the evaluations change neither the board's state nor its step.
    assert model.evaluated == report.evaluated == 2 * 10 + 6
    assert state_mismatches(golden, model.state) == [] and model.trained == 2 * N


def test_a_board_that_evaluates_a_wrong_class_is_caught_at_its_sample():
    state, x, y = _setup()
    x_val, y_val = _split(7)
    model = TrainBoardModel(state, FOLDING)
    original = model._execute

    def wrong_class(cmd, payload):
        status, body = original(cmd, payload)
        if cmd == tp.CMD_EVAL and model.evaluated == 14:     # epoch 2, sample 3
            body = bytes([(body[0] + 1) % 4]) + body[1:]
        return status, body

    model._execute = wrong_class
    with pytest.raises(StateMismatch, match=r"validation after epoch 2, sample 3: the board "
                                            r"evaluates class \d, the golden model \d"):
        train_on_board(TrainClient(FakeSerial(model)), state, x, y, 2, x_val=x_val,
                       y_val=y_val)


class _DropEval:
    """Drops the answer of the ``k``-th EVAL request."""

    def __init__(self, k):
        self.k, self.evals = k, 0

    def __call__(self, data):
        if data[1:2] == bytes([tp.CMD_EVAL]):
            self.evals += 1
            if self.evals == self.k:
                return b""
        return data


def test_a_lost_eval_answer_is_asked_again():
    state, x, y = _setup()
    x_val, y_val = _split(7)
    golden, _ = _golden(state, x, y, 1)
    model = TrainBoardModel(state, FOLDING)
    client = TrainClient(FakeSerial(model, corrupt=_DropEval(4)), timeout=0.2)
    report = train_on_board(client, state, x, y, 1, x_val=x_val, y_val=y_val)
    assert report.val_acc == pytest.approx([accuracy(golden, x_val, y_val)])
    assert report.resent == 1 and model.evaluated == 11
    assert state_mismatches(golden, model.state) == []


def test_a_board_with_shadows_in_spram_trains_equal_to_the_golden_model():
    # TRAIN_INFO tells the host which layers are in SPRAM (their update is slower).
    state, x, y = _setup()
    golden, accs = _golden(state, x, y, 1)
    model = TrainBoardModel(state, FOLDING, spram=(1,))
    report = train_on_board(TrainClient(FakeSerial(model)), state, x, y, 1)
    assert state_mismatches(golden, report.state) == []
    assert report.cycles == [plan_trainer(state, FOLDING, (1,)).cycles_per_sample] * N
    assert report.cycles[0] > plan_trainer(state, FOLDING).cycles_per_sample


def test_a_board_whose_state_differs_is_caught_naming_the_weight():
    state, x, y = _setup()

    def wrong_bias(board_state, n):
        if n == N:                      # the last sample of the first epoch
            board_state.layers[1].bias[2] += 1

    golden, _ = _golden(state, x, y, 1)
    want = golden.layers[1].bias[2]
    client = TrainClient(FakeSerial(TrainBoardModel(state, FOLDING, after_train=wrong_bias)))
    with pytest.raises(StateMismatch, match=rf"after epoch 1: .*layer 1 bias row 2: "
                                            rf"expected {want}, got {want + 1}"):
        train_on_board(client, state, x, y, 2)


def test_a_wrong_class_is_caught_at_its_sample():
    state, x, y = _setup()
    model = TrainBoardModel(state, FOLDING)
    original = model._execute

    def wrong_class(cmd, payload):
        status, body = original(cmd, payload)
        if cmd == tp.CMD_TRAIN and model.trained == 3:
            body = bytes([(body[0] + 1) % 4]) + body[1:]
        return status, body

    model._execute = wrong_class
    with pytest.raises(StateMismatch, match=r"epoch 1, sample \d+ \(step \d+\): the board's "
                                            r"class is \d, the golden model's \d"):
        train_on_board(TrainClient(FakeSerial(model)), state, x, y, 1)


class _DropOne:
    """Corrupts the answer of the ``k``-th TRAIN request (drops it, or flips a byte)."""

    def __init__(self, k, how):
        self.k, self.how, self.trains = k, how, 0

    def __call__(self, data):
        if data[1:2] == bytes([tp.CMD_TRAIN]):
            self.trains += 1
            if self.trains == self.k:
                return b"" if self.how == "drop" else data[:-1] + bytes([data[-1] ^ 0x21])
        return data


@pytest.mark.parametrize("how", ["drop", "damage"])
def test_a_lost_train_answer_is_resolved_by_the_step_without_training_twice(how):
    state, x, y = _setup()
    golden, accs = _golden(state, x, y, 1)
    model = TrainBoardModel(state, FOLDING)
    client = TrainClient(FakeSerial(model, corrupt=_DropOne(5, how)), timeout=0.2)
    report = train_on_board(client, state, x, y, 1)
    assert state_mismatches(golden, report.state) == []
    assert model.trained == N and report.resent == 1
    assert len(report.cycles) == N - 1 and report.train_acc == pytest.approx(accs)


class _DamagedRequest(FakeSerial):
    """A port that flips a byte of the ``k``-th TRAIN request on its way to the board."""

    def __init__(self, model, k):
        super().__init__(model)
        self.k, self.trains = k, 0

    def write(self, data):
        if data[1:2] == bytes([tp.CMD_TRAIN]):
            self.trains += 1
            if self.trains == self.k:
                data = data[:6] + bytes([data[6] ^ 1]) + data[7:]
        return super().write(data)


def test_a_damaged_train_request_is_refused_by_the_board_and_sent_again():
    state, x, y = _setup()
    golden, _ = _golden(state, x, y, 1)
    model = TrainBoardModel(state, FOLDING)
    report = train_on_board(TrainClient(_DamagedRequest(model, 4)), state, x, y, 1)
    assert state_mismatches(golden, report.state) == []
    assert model.trained == N and report.resent == 1 and len(report.cycles) == N


def test_a_trainer_built_for_other_parameters_is_refused():
    state, x, y = _setup()
    other = state.copy()
    other.layers[0].shift = other.layers[0].shift + 1
    port = FakeSerial(TrainBoardModel(other, FOLDING))
    with pytest.raises(TrainerMismatch, match="other QTrain parameters"):
        train_on_board(TrainClient(port), state, x, y, 1)
    assert bytes(port.written).count(p.REQUEST_SYNC) == 1     # only TRAIN_INFO was sent


def test_a_decay_inside_the_run_is_refused_before_loading():
    state, x, y = _setup(decay_epochs=1)
    port = FakeSerial(TrainBoardModel(state, FOLDING))
    with pytest.raises(TrainerMismatch, match="epoch 2: layer 0's update shifts become"):
        train_on_board(TrainClient(port), state, x, y, 2)
    assert not any(port.written[k + 1] == tp.CMD_LOAD_STATE
                   for k in range(len(port.written) - 1) if port.written[k] == p.REQUEST_SYNC)


def test_an_inference_bitstream_is_refused():
    state, x, y = _setup()
    client = TrainClient(FakeSerial(BoardModel(make_qnet())), timeout=0.2)
    with pytest.raises(HostError, match="rejected the request .unknown command."):
        train_on_board(client, state, x, y, 1)


QUICK = ["--max-train", "30", "--quiet", "--epochs", "2", "--arch", "64-16-10",
         "--decay-epochs", "0", "--seed", "3"]


def test_mulfree_learn_on_a_board_writes_the_golden_state_and_qnet(tmp_path, capsys,
                                                                   monkeypatch):
    import boards.cmd_learn_board as cmd
    from golden_model.cmd_learn import build_state
    from golden_model.datasets import load_dataset

    def fake_board(args):
        dataset = load_dataset(args.dataset, seed=args.seed, max_train=args.max_train)
        return FakeSerial(TrainBoardModel(build_state(args, dataset), [(4, 8), (2, 4)]))

    monkeypatch.setattr(cmd, "open_board", fake_board)
    cpu, board = tmp_path / "cpu.qtrain.npz", tmp_path / "board.qtrain.npz"
    assert main(["learn", *QUICK, "--out", str(cpu)]) == 0
    capsys.readouterr()
    assert main(["learn", *QUICK, "--board", "icebreaker", "--port", "/dev/fake",
                 "--out", str(board), "--export-qnet", str(tmp_path / "b.qnet.npz")]) == 0
    text = capsys.readouterr().out
    assert "epoch   1  board train" in text and "epoch   2  board train" in text
    assert "board val" in text and "board test accuracy" in text
    assert "state and classes equal to the golden model (60 steps)" in text
    want, got = load_state(cpu), load_state(board)
    assert state_mismatches(want, got) == [] and (got.epoch, got.step) == (2, 60)


@pytest.mark.parametrize("args, message", [
    (["--board", "icebreaker"], "--board and --port: expected both"),
    (["--port", "/dev/x"], "--board and --port: expected both"),
    (["--board", "nosuch", "--port", "/dev/x"], "unknown board 'nosuch'"),
    (["--board", "icebreaker", "--port", "/nonexistent/tty"], "--port: cannot open"),
])
def test_board_argument_errors(tmp_path, capsys, args, message):
    assert main(["learn", *QUICK, "--out", str(tmp_path / "s.npz"), *args]) == 2
    err = capsys.readouterr().err
    assert "mulfree learn: error:" in err and message in err
    assert not (tmp_path / "s.npz").exists()
