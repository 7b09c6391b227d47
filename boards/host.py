"""Host driver: talk to a mulfree board over its serial port.

Members
-------
BoardClient
    Requests and answers over one port (pyserial or anything alike).
open_port
    Open a serial port with a clear error when it is not there.
run_test_set
    Stream images through a board and check every answer against the QNet.
RunReport
    What :func:`run_test_set` measured.
load_weights
    Write a loadable bitstream's weights over the serial link.
LoadReport
    What :func:`load_weights` sent.
bench_board
    Replay the images the board holds at the engine's rate (``BENCH``) and
    check the answers' checksum against the QNet.
BenchReport
    What :func:`bench_board` measured.
"""

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from boards import protocol as p
from golden_model.errors import MulfreeError


class HostError(MulfreeError):
    """The board or its port is missing, silent, or runs another network."""


class BoardTimeout(HostError):
    """The board did not answer in time."""


class ModelMismatch(HostError):
    """The bitstream carries a different QNet than the one given."""


class LoadError(HostError):
    """The weights could not be loaded, or the board does not report them loaded."""


class WeightsNotLoaded(HostError):
    """The bitstream needs its weights loaded before it can answer an image."""


def open_port(path, baud, timeout=0.5):
    """Open ``path`` as a serial port at ``baud``.

    Raises
    ------
    HostError
        When the port does not exist or cannot be opened.
    """
    import serial

    try:
        return serial.Serial(path, baudrate=baud, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as error:
        raise HostError(f"--port: cannot open {path} ({error}); expected the board's "
                        "USB-serial device, e.g. /dev/ttyUSB1 for an iCEBreaker") from None


def _answer_timeout(timeout):
    """``timeout`` as seconds; NaN, infinite or non-positive would wait forever or never."""
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise HostError(f"--timeout {timeout!r}: expected a finite number of seconds > 0")
    return seconds


class BoardClient:
    """The protocol over a serial port.

    Parameters
    ----------
    port : serial.Serial-like
        Needs ``write``, ``read(size)`` (returning what arrived within its
        own timeout) and ``reset_input_buffer``.
    timeout : float
        Seconds to wait for a whole answer.
    name : str
        How errors name the port.
    """

    def __init__(self, port, timeout=2.0, name="the serial port"):
        self.port = port
        self.timeout = _answer_timeout(timeout)
        self.name = name
        self.layout = None
        self.board_info = None
        #: The images of the last request sent: what ``BENCH`` replays.
        self.held = None

    def request(self, cmd, payload=b""):
        """Send one request; return ``(status, payload)`` of the answer.

        Bytes that do not make a plausible, valid answer frame (line noise,
        a damaged answer) are skipped; the first valid one is returned.
        """
        self.port.reset_input_buffer()
        self.port.write(p.encode_frame(p.REQUEST_SYNC, cmd, payload))
        reader = p.FrameReader(p.RESPONSE_SYNC, self._answer_header_check(cmd))
        return self._receive(reader, [])

    def _receive(self, reader, queue):
        """The next answer frame from ``reader`` (``queue`` keeps frames read ahead)."""
        deadline = time.monotonic() + self.timeout
        while True:
            if queue:
                return queue.pop(0)
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            queue += reader.feed(chunk)
            if queue:
                continue
            if not chunk and reader.damaged and not reader.pending:
                # The line went idle after a damaged answer: nothing valid is coming.
                raise HostError(f"{self.name}: a damaged answer from the board (bad "
                                "checksum) and nothing after it; check the cable and the "
                                "baud rate")
            if time.monotonic() > deadline:
                what = "a partial answer" if reader.pending else "no answer"
                if reader.damaged:
                    what = (f"{reader.damaged} damaged answer(s) (bad checksum) and no "
                            "valid one")
                raise BoardTimeout(
                    f"{self.name}: {what} from the board within {self.timeout:g} s; expected "
                    "a mulfree bitstream on the board at the same baud rate")

    def _answer_header_check(self, cmd):
        """``accept(status, length)`` for the answer to ``cmd``: its own code with
        at most the longest payload that answer has, or an error status with none.

        A shorter own answer passes, so that decoding it names what is wrong.
        """
        if cmd == p.CMD_INFO:
            longest = p.INFO_FLAGS_OFFSET + 2 + 0xFF * p.INFO_LAYER_BYTES + 2
        elif cmd in (p.CMD_INFER, p.CMD_INFER_LOGITS) and self.layout is not None:
            longest = self.layout.result_bytes(cmd == p.CMD_INFER_LOGITS)
        elif cmd == p.CMD_INFER_BATCH and self.layout is not None:
            longest = self.layout.frame_batch * self.layout.result_bytes(True)
        elif cmd == p.CMD_BENCH:
            longest = p.BENCH_ANSWER_BYTES
        elif cmd in (p.CMD_LOAD, p.CMD_LOAD_DONE):
            longest = 0
        else:
            longest = p.MAX_PAYLOAD

        def accept(status, length):
            if status == cmd:
                return length <= longest
            return status in p.STATUS_NAMES and length == 0
        return accept

    def _checked(self, cmd, payload=b""):
        status, answer = self.request(cmd, payload)
        if status != cmd:
            reason = p.STATUS_NAMES.get(status, f"status 0x{status:02x}")
            raise HostError(f"{self.name}: the board rejected the request ({reason})")
        return answer

    def info(self):
        """The board's :class:`~boards.protocol.BoardInfo`."""
        return p.BoardInfo.decode(self._checked(p.CMD_INFO))

    def attach(self, qnet):
        """Check that the board runs ``qnet``; remember its message layout.

        Raises
        ------
        ModelMismatch
            When the fingerprint or the shape built into the bitstream differs.
        """
        info = self.info()
        expected = p.fingerprint_prefix(qnet)
        if info.fingerprint != expected:
            raise ModelMismatch(
                f"{self.name}: the bitstream was built for QNet {info.fingerprint.hex()}…, "
                f"the model given is {expected.hex()}…; rebuild the bitstream for this model "
                "(mulfree build) or pass the model it was built from")
        self.layout = p.Layout.of(qnet)
        self.board_info = info
        return info

    def infer(self, image, logits=False):
        """Classify one image; returns an :class:`~boards.protocol.InferenceResult`."""
        if self.layout is None:
            raise HostError("BoardClient.infer: call attach(qnet) first")
        cmd = p.CMD_INFER_LOGITS if logits else p.CMD_INFER
        answer = self._checked(cmd, self.layout.encode_image(image))
        self.held = np.asarray(image)[None, :]
        try:
            return self.layout.decode_result(answer, logits)
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None

    def batch_size(self, batch=None):
        """Images per request: ``batch`` if the board takes it, else the most it takes.

        Raises
        ------
        HostError
            When ``batch`` is more than the board's ``max_batch`` (1 for a
            version 2 board).
        """
        if self.board_info is None:
            raise HostError("BoardClient.batch_size: call attach(qnet) first")
        most = min(self.board_info.max_batch, self.layout.frame_batch)
        if batch is None:
            return most
        if not 1 <= int(batch) <= most:
            raise HostError(f"--batch {batch}: the board (protocol version "
                            f"{self.board_info.version}) takes 1 to {most} images per request")
        return int(batch)

    def infer_stream(self, images, logits=False, batch=None):
        """Classify ``images``; yields an :class:`~boards.protocol.InferenceResult` each.

        A version 3 board gets ``INFER_BATCH`` requests of ``batch`` images
        (default: its ``max_batch``), :data:`IN_FLIGHT` of them sent ahead of
        their answers so the link and the engine overlap. A version 2
        board, or ``batch=1``, gets one ``INFER`` per image.
        """
        batch = self.batch_size(batch)
        images = np.asarray(images)
        if batch == 1:
            for image in images:
                yield self.infer(image, logits)
            return
        self.port.reset_input_buffer()
        reader = p.FrameReader(p.RESPONSE_SYNC, self._answer_header_check(p.CMD_INFER_BATCH))
        queue, in_flight = [], deque()
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            self.port.write(p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_BATCH,
                                           self.layout.encode_batch(chunk, logits)))
            self.held = chunk
            in_flight.append(len(chunk))
            if len(in_flight) == IN_FLIGHT:
                yield from self._batch_answer(reader, queue, in_flight.popleft(), logits)
        while in_flight:
            yield from self._batch_answer(reader, queue, in_flight.popleft(), logits)

    def _batch_answer(self, reader, queue, count, logits):
        status, answer = self._receive(reader, queue)
        if status != p.CMD_INFER_BATCH:
            reason = p.STATUS_NAMES.get(status, f"status 0x{status:02x}")
            raise HostError(f"{self.name}: the board rejected a batch of {count} images "
                            f"({reason})")
        try:
            return self.layout.decode_results(answer, logits, count)
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None

    def bench(self, replays):
        """``BENCH``: the board replays the images it holds; a
        :class:`~boards.protocol.BenchResult`.

        Raises
        ------
        HostError
            When the board speaks protocol version 2 (no ``BENCH``) or holds no images.
        """
        if self.board_info is None:
            raise HostError("BoardClient.bench: call attach(qnet) first")
        if self.board_info.version < p.BATCH_VERSION:
            raise HostError(f"{self.name}: the board speaks protocol version "
                            f"{self.board_info.version}, which has no BENCH; rebuild the "
                            f"bitstream with 'mulfree build --bench' (protocol version "
                            f"{p.VERSION})")
        status, answer = self.request(p.CMD_BENCH, p.encode_bench(replays))
        if status == p.STATUS_BAD_COMMAND:
            raise HostError(f"{self.name}: the bitstream was built without BENCH; rebuild it "
                            "with 'mulfree build --bench'")
        if status != p.CMD_BENCH:
            reason = p.STATUS_NAMES.get(status, f"status 0x{status:02x}")
            raise HostError(f"{self.name}: the board rejected the request ({reason})")
        try:
            return p.BenchResult.decode(answer)
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None


#: INFER_BATCH requests sent ahead of their answers: one computing or
#: answering while the next one arrives.
IN_FLIGHT = 2


@dataclass
class RunReport:
    """Outcome of :func:`run_test_set`."""

    n_images: int
    n_correct: int
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0
    cycles: list = field(default_factory=list)
    clock_hz: int = 0
    batch: int = 1
    version: int = p.VERSION
    #: The link's bound for this run (:func:`boards.link_rate.link_bound`), if the baud is known.
    link: object = None

    @property
    def accuracy(self):
        return self.n_correct / self.n_images if self.n_images else 0.0

    @property
    def images_per_second(self):
        """End to end: measured over the serial link, every byte and wait included."""
        return self.n_images / self.seconds if self.seconds else 0.0

    @property
    def compute_images_per_second(self):
        """The engine's rate: what the accelerator's cycle counts allow at the board
        clock (one image at a time; ``BENCH`` measures it with images overlapping)."""
        mean = float(np.mean(self.cycles)) if self.cycles else 0.0
        if not mean or not self.clock_hz:       # no answers, or a board reporting 0 cycles
            return 0.0
        return self.clock_hz / mean

    def summary(self):
        lines = [
            f"images      {self.n_images}",
            f"accuracy    {self.accuracy:.2%} ({self.n_correct}/{self.n_images})",
            f"mismatches  {len(self.mismatches)} (board vs QNet.forward)",
            f"end to end  {self.images_per_second:,.1f} images/s measured over the serial "
            f"link ({self._how_sent()})",
        ]
        if self.link is not None:
            share = self.images_per_second / self.link.images_per_s
            lines.append(f"link bound  {self.link.images_per_s:,.1f} images/s at "
                         f"{self.link.baud:,} baud for these requests and answers "
                         f"(measured: {share:.0%} of it)")
        if self.cycles:
            # An INFER's count is its latency: images that overlap (BENCH) go faster.
            lines.append(f"engine      {self.compute_images_per_second:,.0f} images/s one at a "
                         f"time, from the board's cycle counts ({min(self.cycles)}.."
                         f"{max(self.cycles)} cycles from first pixel to answer at "
                         f"{self.clock_hz / 1e6:g} MHz; --bench N for images overlapping)")
        for index, board, model in self.mismatches[:10]:
            lines.append(f"  image {index}: board {board}, QNet {model}")
        return "\n".join(lines)

    def _how_sent(self):
        if self.batch > 1:
            return f"batches of {self.batch}, pipelined, protocol version {self.version}"
        return f"one image per round trip, protocol version {self.version}"


def run_test_set(client, qnet, images, labels, logits=True, progress=None, batch=None,
                 baud=None):
    """Classify every image on the board and compare with :meth:`QNet.forward`.

    Parameters
    ----------
    client : BoardClient
    qnet : QNet
    images : ndarray of int, shape (n, n_inputs)
    labels : ndarray of int, shape (n,)
    logits : bool
        Also fetch and compare the logits (not only the class).
    progress : callable, optional
        Wraps the image iterator (e.g. ``tqdm``).
    batch : int, optional
        Images per request (see :meth:`BoardClient.infer_stream`); default
        the most the board takes.
    baud : int, optional
        The link's rate, for the bound the summary compares the measured rate with.

    Returns
    -------
    RunReport
        A mismatch is ``(index, board answer, QNet answer)``.

    Raises
    ------
    WeightsNotLoaded
        When the bitstream needs a weight load it has not had.
    """
    info = client.attach(qnet)
    if not info.loaded:
        raise WeightsNotLoaded(f"{client.name}: the bitstream needs its weights loaded before "
                               "it answers an image (load_weights; mulfree run does it)")
    images = np.asarray(images)
    batch = client.batch_size(batch)
    want_logits, want_classes = qnet.forward(images)
    link = None
    if baud is not None:
        from boards.link_rate import link_bound
        link = link_bound(client.layout, baud, batch=batch, logits=logits)
    report = RunReport(n_images=len(images), n_correct=0, clock_hz=info.clock_hz,
                       batch=batch, version=info.version, link=link)
    indices = range(len(images))
    start = time.monotonic()
    results = client.infer_stream(images, logits=logits, batch=batch)
    for k, result in zip(progress(indices) if progress else indices, results, strict=True):
        report.cycles.append(result.cycles)
        report.n_correct += int(result.cls == labels[k])
        if result.cls != want_classes[k]:
            report.mismatches.append((k, f"class {result.cls}", f"class {want_classes[k]}"))
        elif logits and not np.array_equal(result.logits, want_logits[k]):
            report.mismatches.append((k, f"logits {result.logits.tolist()}",
                                      f"logits {want_logits[k].tolist()}"))
    report.seconds = time.monotonic() - start
    return report


@dataclass
class LoadReport:
    """Outcome of :func:`load_weights`."""

    slices: int
    chunks: int
    bytes_sent: int
    seconds: float
    resent: int = 0

    @property
    def bytes_per_second(self):
        return self.bytes_sent / self.seconds if self.seconds else 0.0

    def summary(self):
        resent = f", {self.resent} resent" if self.resent else ""
        return (f"weights     {self.slices:,} slices loaded in {self.seconds:.2f} s "
                f"({self.bytes_sent:,} bytes in {self.chunks} chunks{resent})")


def load_plans(qnet, info, name="the board"):
    """The layer plans of the bitstream ``info`` describes, rebuilt for ``qnet``.

    Raises
    ------
    ModelMismatch
        When the board's layers (count or folding) do not fit the QNet's.
    """
    from hdl.errors import HardwareGenerationError
    from hdl.layer_plan import plan_layers

    if len(info.layers) != len(qnet.layers):
        raise ModelMismatch(f"{name}: the bitstream reports {len(info.layers)} layers, the "
                            f"model has {len(qnet.layers)}; pass the model it was built from")
    try:
        return plan_layers(qnet, info.folding, 1, "signselect", info.stores)
    except HardwareGenerationError as error:
        raise ModelMismatch(f"{name}: the bitstream's folding {info.folding} does not fit the "
                            f"model's layers ({error}); pass the model it was built "
                            "from") from None


def load_weights(client, qnet, info=None, retries=3, progress=None):
    """Write every loadable weight slice of ``qnet``, then ``LOAD_DONE``, then confirm.

    The load map is rebuilt from ``INFO`` (folding and weight stores) and
    the QNet, so no file of the build is needed. Each region goes in chunks
    of at most :data:`~boards.protocol.MAX_LOAD_SLICES`; a chunk answered
    with a bad checksum or a timeout, or not answered, is sent again to the
    same address (a write is idempotent).

    Parameters
    ----------
    client : BoardClient
    qnet : QNet
        The network the bitstream was built from.
    info : BoardInfo, optional
        The board's INFO (read when not given).
    retries : int
        Extra attempts per request.
    progress : callable, optional
        ``progress(total_slices)`` returns an object with ``update(n)`` (and
        maybe ``close()``), e.g. a ``tqdm`` bar.

    Returns
    -------
    LoadReport

    Raises
    ------
    ModelMismatch
        When the board's layers do not fit ``qnet``.
    LoadError
        When a request is rejected, keeps failing, or the board does not
        report the weights loaded afterwards.
    """
    from hdl.weight_load import LoadMap

    info = client.info() if info is None else info
    if not info.needs_load:
        raise LoadError(f"{client.name}: the bitstream has its weights built in; there is "
                        "nothing to load")
    load_map = LoadMap(load_plans(qnet, info, client.name))
    bar = progress(load_map.total_slices) if progress else None
    report = LoadReport(slices=0, chunks=0, bytes_sent=0, seconds=0.0)
    start = time.monotonic()
    try:
        for region in load_map.regions():
            for offset in range(0, len(region.values), p.MAX_LOAD_SLICES):
                values = region.values[offset:offset + p.MAX_LOAD_SLICES]
                address = region.start + offset
                _send_with_retries(client, p.CMD_LOAD, p.encode_load(address, values),
                                   f"LOAD of {len(values)} slices at address {address}",
                                   retries, report)
                report.slices += len(values)
                if bar is not None:
                    bar.update(len(values))
        _send_with_retries(client, p.CMD_LOAD_DONE, b"", "LOAD_DONE", retries, report)
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()
    report.seconds = time.monotonic() - start
    if not client.info().loaded:
        raise LoadError(f"{client.name}: the board does not report its weights loaded after "
                        "LOAD_DONE")
    return report


#: Answers after which the same request is sent again.
_RETRY_STATUSES = (p.STATUS_BAD_CHECKSUM, p.STATUS_TIMEOUT)


def _send_with_retries(client, cmd, payload, what, retries, report):
    frame_bytes = len(payload) + 5          # sync, command, length (2), checksum
    last = None
    for attempt in range(retries + 1):
        report.chunks += attempt == 0
        report.resent += attempt > 0
        report.bytes_sent += frame_bytes
        try:
            status, _ = client.request(cmd, payload)
        except HostError as error:          # no answer, or a damaged one
            last = str(error)
            continue
        if status == cmd:
            return
        reason = p.STATUS_NAMES.get(status, f"status 0x{status:02x}")
        if status not in _RETRY_STATUSES:
            raise LoadError(f"{client.name}: the board rejected the {what} ({reason})")
        last = reason
    raise LoadError(f"{client.name}: the {what} failed {retries + 1} times (last: {last}); "
                    "check the cable and the baud rate")


@dataclass
class BenchReport:
    """Outcome of :func:`bench_board`."""

    count: int
    cycles: int
    clock_hz: int
    checksum: int
    expected_checksum: int
    seconds: float = 0.0

    @property
    def ok(self):
        return self.checksum == self.expected_checksum

    @property
    def images_per_second(self):
        """The engine's rate on the board: images over the cycles they took."""
        return self.count * self.clock_hz / self.cycles if self.cycles else 0.0

    def summary(self):
        check = ("equal to the QNet's" if self.ok else
                 f"0x{self.checksum:08x}, the QNet's 0x{self.expected_checksum:08x}: MISMATCH")
        return (f"bench       {self.count:,} images replayed on the board in {self.cycles:,} "
                f"cycles: {self.images_per_second:,.0f} images/s of engine at "
                f"{self.clock_hz / 1e6:g} MHz; answers' checksum {check}")


def bench_board(client, qnet, replays):
    """Run ``BENCH``: the board replays the images last sent ``replays`` times.

    The checksum of the board's answers is compared with the one of the
    QNet's answers for the same images in the same order.

    Parameters
    ----------
    client : BoardClient
        Attached, after images were sent (:func:`run_test_set`).
    qnet : QNet
    replays : int

    Returns
    -------
    BenchReport

    Raises
    ------
    HostError
        When the board has no ``BENCH`` (protocol version 2), no images were
        sent through this client, or the board's count is not ``replays``.
    """
    if client.held is None:
        raise HostError(f"{client.name}: BENCH replays the images last sent; send some first")
    info = client.board_info
    held = np.asarray(client.held)
    start = time.monotonic()
    result = client.bench(replays)
    seconds = time.monotonic() - start
    if result.count != replays:
        raise HostError(f"{client.name}: BENCH ran {result.count} images; asked {replays}")
    layout = client.layout
    # The board holds in_bits-wide pixels, as it runs them.
    logits, classes = qnet.forward(held & ((1 << layout.in_bits) - 1))
    answers = [layout.answer_bytes(c, z) for c, z in zip(classes, logits, strict=True)]
    return BenchReport(result.count, result.cycles, info.clock_hz, result.checksum,
                       p.replay_checksum(answers, replays), seconds)
