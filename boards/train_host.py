"""Host driver of a training board: load a QTrain state, stream epochs, check the state.

The host runs the QTrain golden model in lockstep with the board: every
TRAIN answer's class is compared with the golden forward, and at the end of
every epoch the board's whole state (every shadow weight, bias and the step)
is read back and compared bit for bit; the validation (and at the end the
test) accuracy is measured on the board with EVAL, every class compared with
the golden model's prediction for the same state.

Members
-------
TrainClient
    The training protocol over one port.
train_on_board
    Epochs of a dataset on the board, checked against the golden model.
BoardTrainReport
    What :func:`train_on_board` measured.
StateMismatch, TrainerMismatch
"""

import time
from dataclasses import dataclass, field

import numpy as np

from boards import protocol as p
from boards import train_protocol as tp
from boards.host import BoardClient, HostError
from golden_model.qtrain import train_step
from golden_model.qtrain.epochs import epoch_order
from hdl.trainer.plan import (
    TrainerPlanError,
    bias_from_words,
    bias_words,
    plan_trainer,
    shadow_from_words,
    shadow_words,
)
from hdl.trainer.simulate import state_mismatches

__all__ = ["TrainClient", "train_on_board", "evaluate_on_board", "check_schedule",
           "BoardTrainReport",
           "StateMismatch", "TrainerMismatch"]


class StateMismatch(HostError):
    """The board's learned state differs from the golden model's."""


class TrainerMismatch(HostError):
    """The bitstream's trainer is built for another network or other QTrain parameters."""


class TrainClient(BoardClient):
    """The training protocol over a serial port (see :class:`boards.host.BoardClient`).

    Parameters
    ----------
    port : serial.Serial-like
    timeout : float
        Seconds to wait for one answer.
    name : str
        How errors name the port.
    retries : int
        Times a request whose answer is lost or damaged is sent again.
    """

    def __init__(self, port, timeout=2.0, name="the serial port", retries=3):
        super().__init__(port, timeout=timeout, name=name)
        self.retries = int(retries)
        self.plan = None
        self.word_bytes = None
        self.resent = 0

    def _answer_header_check(self, cmd):
        longest = {tp.CMD_LOAD_STATE: 0, tp.CMD_TRAIN: tp.TRAIN_RESULT_BYTES,
                   tp.CMD_EVAL: tp.TRAIN_RESULT_BYTES}.get(
            cmd, p.MAX_PAYLOAD)

        def accept(status, length):
            if status == cmd:
                return length <= longest
            return (status in p.STATUS_NAMES or status in tp.TRAIN_STATUS_NAMES) and length == 0
        return accept

    def _status_error(self, cmd, status):
        reason = p.STATUS_NAMES.get(status) or tp.TRAIN_STATUS_NAMES.get(
            status, f"status 0x{status:02x}")
        return HostError(f"{self.name}: the board rejected the request ({reason})")

    def _request_retried(self, cmd, payload=b""):
        """A request whose answer is lost, damaged or refused for a damaged
        request (bad checksum, cut short) is sent again: only for idempotent ones."""
        for attempt in range(self.retries + 1):
            try:
                status, answer = self.request(cmd, payload)
            except HostError as error:          # no or a damaged answer
                if attempt == self.retries:
                    raise HostError(f"{error} (after {self.retries} retries)") from None
                self.resent += 1
                continue
            if status == cmd:
                return answer
            if status in (p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT) and attempt < self.retries:
                self.resent += 1
                continue
            raise self._status_error(cmd, status)

    def train_info(self):
        """The board's :class:`~boards.train_protocol.TrainInfo`."""
        try:
            return tp.TrainInfo.decode(self._request_retried(tp.CMD_TRAIN_INFO))
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None

    def attach(self, state):
        """Check that the board's trainer is the one of ``state``; returns the plan.

        Raises
        ------
        TrainerMismatch
            Naming what differs: the layer sizes, the input width, the folding,
            or (by the plan fingerprint) the QTrain parameters.
        """
        info = self.train_info()
        sizes = [state.input.n_inputs] + [layer.n_out for layer in state.layers]
        if info.sizes != sizes or info.input_bits != state.input.bits:
            raise TrainerMismatch(
                f"{self.name}: the bitstream trains a {'-'.join(map(str, info.sizes))} network "
                f"with {info.input_bits}-bit inputs; the state is "
                f"{'-'.join(map(str, sizes))} with {state.input.bits}-bit inputs; build the "
                "training bitstream for this state")
        try:
            plan = plan_trainer(state, info.folding, info.spram)
        except TrainerPlanError as error:
            spram = f" (SPRAM layers {list(info.spram)})" if info.spram else ""
            raise TrainerMismatch(f"{self.name}: the board reports folding {info.folding}"
                                  f"{spram}: {error}") from None
        if tp.plan_fingerprint(plan) != info.fingerprint:
            raise TrainerMismatch(
                f"{self.name}: the bitstream's trainer was built with other QTrain parameters "
                f"(plan {info.fingerprint.hex()}, this state's {tp.plan_fingerprint(plan).hex()}:"
                " shifts, thresholds, update or backward shifts, widths, seed or modes differ);"
                " build the training bitstream for this state")
        if info.word_bytes != tp.word_bytes(plan):
            raise TrainerMismatch(f"{self.name}: state words of {info.word_bytes} bytes; "
                                  f"expected {tp.word_bytes(plan)}")
        self.plan, self.word_bytes = plan, info.word_bytes
        return plan

    def _need_plan(self):
        if self.plan is None:
            raise HostError("TrainClient: call attach(state) first")

    def load_state(self, state):
        """Write every shadow and bias word and the step of ``state`` to the board."""
        self._need_plan()
        for k, (lp, layer) in enumerate(zip(self.plan.layers, state.layers, strict=True)):
            for sel, words in ((2 * k, shadow_words(lp, layer.shadow)),
                               (2 * k + 1, bias_words(lp, layer.bias))):
                for address, word in enumerate(words):
                    self._request_retried(tp.CMD_LOAD_STATE, tp.encode_load_state(
                        sel, address, word, self.word_bytes))
        self._request_retried(tp.CMD_LOAD_STATE, tp.encode_load_state(
            2 * len(self.plan.layers), 0, state.step & 0xFFFFFFFF, self.word_bytes))

    def read_words(self, sel, depth):
        """Every word of memory ``sel`` (several requests when it exceeds a frame)."""
        self._need_plan()
        words, chunk = [], tp.max_read_words(self.plan)
        for start in range(0, depth, chunk):
            count = min(chunk, depth - start)
            answer = self._request_retried(tp.CMD_READ_STATE,
                                           tp.encode_read_state(sel, start, count))
            got = tp.decode_words(answer, self.word_bytes)
            if len(got) != count:
                raise HostError(f"{self.name}: READ_STATE answered {len(got)} words; "
                                f"expected {count}")
            words += got
        return words

    def read_step(self):
        return self.read_words(2 * len(self.plan.layers), 1)[0]

    def read_state(self, template):
        """The board's state as a copy of ``template`` with its shadows, biases and step."""
        self._need_plan()
        got = template.copy()
        for k, lp in enumerate(self.plan.layers):
            got.layers[k].shadow = shadow_from_words(lp, self.read_words(2 * k, lp.depth))
            got.layers[k].bias = bias_from_words(lp, self.read_words(2 * k + 1,
                                                                     lp.row_groups))
        got.step = self.read_step()
        return got

    def evaluate(self, image):
        """The class of the board's forward of one image with the deterministic
        weights (EVAL); the board's state does not change, so a lost answer is
        simply asked again."""
        self._need_plan()
        answer = self._request_retried(tp.CMD_EVAL, tp.encode_eval(self.plan, image))
        try:
            return tp.decode_train_result(answer)[0]
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None

    def train(self, image, label, step):
        """One sample; returns ``(class, cycles)``, or ``(None, None)`` when the answer
        was lost but the board's step shows the sample was trained.

        ``step`` is the board's step before this sample: a lost answer is resolved
        by reading the step (trained once, or not at all and sent again), so a
        sample is never trained twice.
        """
        self._need_plan()
        payload = tp.encode_train(self.plan, image, label)
        for _ in range(self.retries + 1):
            try:
                status, answer = self.request(tp.CMD_TRAIN, payload)
            except HostError:
                status = None
            if status == tp.CMD_TRAIN:
                return tp.decode_train_result(answer)
            if status not in (None, p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT):
                raise self._status_error(tp.CMD_TRAIN, status)
            self.resent += 1
            now = self.read_step()
            if now == (step + 1) & 0xFFFFFFFF:
                return None, None
            if now != step & 0xFFFFFFFF:
                raise StateMismatch(f"{self.name}: the board's step is {now} after a lost "
                                    f"TRAIN answer; expected {step} or {step + 1}")
        raise HostError(f"{self.name}: TRAIN not answered after {self.retries} retries")


@dataclass
class BoardTrainReport:
    """Outcome of :func:`train_on_board`: per epoch the training and validation accuracy
    on the board (``test_acc`` after the last epoch, NaN without test data)."""

    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    test_acc: float = float("nan")
    evaluated: int = 0
    samples: int = 0
    seconds: float = 0.0
    cycles: list = field(default_factory=list)
    resent: int = 0
    state: object = None

    @property
    def samples_per_second(self):
        return self.samples / self.seconds if self.seconds else float("nan")


def check_schedule(state, plan, epochs):
    """Refuse a run whose update shifts change (decay) within ``epochs``: they are
    built into the bitstream."""
    for epoch in range(state.epoch, state.epoch + epochs):
        at = state.copy()
        at.epoch = epoch
        for k, lp in enumerate(plan.layers):
            if at.eta(k) != (lp.eta, lp.eta_bias):
                raise TrainerMismatch(
                    f"epoch {epoch + 1}: layer {k}'s update shifts become {at.eta(k)}, the "
                    f"bitstream has {(lp.eta, lp.eta_bias)} built in; train fewer epochs "
                    "per bitstream or set --decay-epochs 0")


def _compare(expected, got, when):
    messages = state_mismatches(expected, got)
    if messages:
        raise StateMismatch(f"{when}: the board's state differs from the golden model: "
                            + "; ".join(messages))


def evaluate_on_board(client, state, x, y, what):
    """Accuracy of the board's EVAL classes on ``(x, y)``, each checked equal to the
    golden model's prediction for ``state`` (the deterministic weights, the QNet's).

    Raises
    ------
    StateMismatch
        Naming the sample, the board's class and the golden model's.
    """
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        return float("nan")
    want = state.to_qnet(meta={}).predict(x)
    correct = 0
    for index, (image, label) in enumerate(zip(x, y, strict=True)):
        cls = client.evaluate(image)
        if cls != want[index]:
            raise StateMismatch(f"{what}, sample {index}: the board evaluates class {cls}, "
                                f"the golden model {int(want[index])}")
        correct += cls == label
    return correct / len(y)


def train_on_board(client, state, x, y, epochs, x_val=None, y_val=None, on_epoch=None,
                   progress=None, x_test=None, y_test=None):
    """Train ``state`` (in place, as the golden model) and the board on ``(x, y)``.

    Parameters
    ----------
    client : TrainClient
    state : QTrainState
        Loaded into the board first, then trained by the golden model in lockstep.
    x, y : ndarray
        Training images and labels; epoch ``e`` visits them in
        :func:`golden_model.qtrain.epochs.epoch_order`.
    epochs : int
    x_val, y_val : ndarray, optional
        Validation accuracy of the deterministic weights after every epoch,
        measured on the board (EVAL) and checked against the golden model.
    x_test, y_test : ndarray, optional
        Test accuracy after the last epoch, the same way.
    on_epoch : callable, optional
        ``on_epoch(report)`` after every epoch.
    progress : callable, optional
        Wraps the sample iterator of an epoch (e.g. tqdm).

    Raises
    ------
    StateMismatch
        When a class or the state read back differs from the golden model's,
        naming the sample or the layer, row, column, expected and got.
    """
    from golden_model.qtrain.epochs import _check_data

    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    _check_data(state, x, y)
    for xs, ys in ((x_val, y_val), (x_test, y_test)):
        if ys is not None:
            _check_data(state, np.asarray(xs, dtype=np.int64), np.asarray(ys, dtype=np.int64))
    plan = client.attach(state)
    check_schedule(state, plan, epochs)
    report = BoardTrainReport()
    client.load_state(state)
    _compare(state, client.read_state(state), "after the load")
    for _ in range(epochs):
        order = epoch_order(state.config.seed, state.epoch, len(y))
        correct = 0
        started = time.perf_counter()
        samples = order if progress is None else progress(order)
        for index in samples:
            step = state.step
            cls, cycles = client.train(x[index], int(y[index]), step)
            want = train_step(state, x[index], int(y[index]))["predicted"]
            if cls is not None and cls != want:
                raise StateMismatch(f"epoch {state.epoch + 1}, sample {index} (step {step}): "
                                    f"the board's class is {cls}, the golden model's {want}")
            if cycles is not None:
                report.cycles.append(cycles)
            correct += want == y[index]
        report.seconds += time.perf_counter() - started
        report.samples += len(order)
        state.epoch += 1
        board_state = client.read_state(state)
        _compare(state, board_state, f"after epoch {state.epoch}")
        report.train_acc.append(correct / max(1, len(order)))
        if y_val is not None and len(y_val):
            report.val_acc.append(evaluate_on_board(client, state, x_val, y_val,
                                                    f"validation after epoch {state.epoch}"))
            report.evaluated += len(y_val)
        report.resent = client.resent
        if on_epoch is not None:
            on_epoch(report)
    if y_test is not None and len(y_test):
        report.test_acc = evaluate_on_board(client, state, x_test, y_test, "test")
        report.evaluated += len(y_test)
        report.resent = client.resent
    report.state = state
    return report

