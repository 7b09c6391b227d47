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
"""

import time
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
        self.timeout = float(timeout)
        self.name = name
        self.layout = None

    def request(self, cmd, payload=b""):
        """Send one request; return ``(status, payload)`` of the answer."""
        self.port.reset_input_buffer()
        self.port.write(p.encode_frame(p.REQUEST_SYNC, cmd, payload))
        reader = p.FrameReader(p.RESPONSE_SYNC)
        deadline = time.monotonic() + self.timeout
        while True:
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            try:
                frames = reader.feed(chunk)
            except p.ProtocolError as error:
                raise HostError(f"{self.name}: {error}") from None
            if frames:
                return frames[0]
            if time.monotonic() > deadline:
                what = "a partial answer" if reader.pending else "no answer"
                raise BoardTimeout(
                    f"{self.name}: {what} from the board within {self.timeout:g} s; expected "
                    "a mulfree bitstream on the board at the same baud rate")

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
        return info

    def infer(self, image, logits=False):
        """Classify one image; returns an :class:`~boards.protocol.InferenceResult`."""
        if self.layout is None:
            raise HostError("BoardClient.infer: call attach(qnet) first")
        cmd = p.CMD_INFER_LOGITS if logits else p.CMD_INFER
        answer = self._checked(cmd, self.layout.encode_image(image))
        try:
            return self.layout.decode_result(answer, logits)
        except p.ProtocolError as error:
            raise HostError(f"{self.name}: {error}") from None


@dataclass
class RunReport:
    """Outcome of :func:`run_test_set`."""

    n_images: int
    n_correct: int
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0
    cycles: list = field(default_factory=list)
    clock_hz: int = 0

    @property
    def accuracy(self):
        return self.n_correct / self.n_images if self.n_images else 0.0

    @property
    def images_per_second(self):
        """Measured over the serial link, round trips included."""
        return self.n_images / self.seconds if self.seconds else 0.0

    @property
    def compute_images_per_second(self):
        """What the accelerator's cycle counts allow at the board clock."""
        if not self.cycles or not self.clock_hz:
            return 0.0
        return self.clock_hz / float(np.mean(self.cycles))

    def summary(self):
        lines = [
            f"images      {self.n_images}",
            f"accuracy    {self.accuracy:.2%} ({self.n_correct}/{self.n_images})",
            f"mismatches  {len(self.mismatches)} (board vs QNet.forward)",
            f"images/s    {self.images_per_second:,.1f} over the serial link",
        ]
        if self.cycles:
            lines.append(f"cycles      {min(self.cycles)}..{max(self.cycles)} per image "
                         f"({self.compute_images_per_second:,.0f} images/s of compute at "
                         f"{self.clock_hz / 1e6:g} MHz)")
        for index, board, model in self.mismatches[:10]:
            lines.append(f"  image {index}: board {board}, QNet {model}")
        return "\n".join(lines)


def run_test_set(client, qnet, images, labels, logits=True, progress=None):
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

    Returns
    -------
    RunReport
        A mismatch is ``(index, board answer, QNet answer)``.
    """
    info = client.attach(qnet)
    images = np.asarray(images)
    want_logits, want_classes = qnet.forward(images)
    report = RunReport(n_images=len(images), n_correct=0, clock_hz=info.clock_hz)
    indices = range(len(images))
    start = time.monotonic()
    for k in (progress(indices) if progress else indices):
        result = client.infer(images[k], logits=logits)
        report.cycles.append(result.cycles)
        report.n_correct += int(result.cls == labels[k])
        if result.cls != want_classes[k]:
            report.mismatches.append((k, f"class {result.cls}", f"class {want_classes[k]}"))
        elif logits and not np.array_equal(result.logits, want_logits[k]):
            report.mismatches.append((k, f"logits {result.logits.tolist()}",
                                      f"logits {want_logits[k].tolist()}"))
    report.seconds = time.monotonic() - start
    return report
