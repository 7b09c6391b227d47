"""The serial protocol between the host and the board top.

Every message is a frame; multi-byte fields are little-endian::

    request:   A5  cmd     len_lo len_hi  payload[len]  sum
    response:  5A  status  len_lo len_hi  payload[len]  sum

``sum`` is the low byte of the sum of every byte between the sync byte and
the checksum. Bytes before a sync byte are skipped, so a host can always
resynchronise. A request cut short (no byte for the board's idle timeout)
is dropped with a ``TIMEOUT`` answer.

Commands and their answers (an answer's ``status`` echoes the command):

``INFO`` (no payload)
    ``"MFQN"``, protocol version, input bits, ``n_inputs`` (u32),
    ``n_classes`` (u16), bytes per logit, clock in Hz (u32), the first 16
    bytes of the QNet fingerprint built into the bitstream.
``INFER`` / ``INFER_LOGITS`` (the image: one byte per pixel, two when the
input has more than 8 bits)
    class (u16), cycles from the first pixel into the accelerator to its
    answer (u32), and for ``INFER_LOGITS`` every logit in two's complement.

A malformed request gets an answer with one of the ``STATUS_*`` error codes
and an empty payload.

Members
-------
Layout
    The byte sizes that depend on the QNet.
BoardInfo, InferenceResult
    Decoded answers.
encode_frame, checksum, FrameReader
    Frame codec.
"""

import struct
from dataclasses import dataclass

import numpy as np

from golden_model.errors import MulfreeError

REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A

CMD_INFO = 0x01
CMD_INFER = 0x02
CMD_INFER_LOGITS = 0x03
COMMANDS = (CMD_INFO, CMD_INFER, CMD_INFER_LOGITS)

STATUS_BAD_COMMAND = 0xE1
STATUS_BAD_LENGTH = 0xE2
STATUS_BAD_CHECKSUM = 0xE3
STATUS_TIMEOUT = 0xE4
STATUS_NAMES = {
    STATUS_BAD_COMMAND: "unknown command",
    STATUS_BAD_LENGTH: "wrong payload length",
    STATUS_BAD_CHECKSUM: "bad checksum",
    STATUS_TIMEOUT: "request cut short",
}

MAGIC = b"MFQN"
VERSION = 1
FINGERPRINT_BYTES = 16
INFO_FORMAT = "<4sBBIHBI16s"
INFO_BYTES = struct.calcsize(INFO_FORMAT)
MAX_PAYLOAD = 0xFFFF


class ProtocolError(MulfreeError):
    """A frame that does not follow the protocol, or a board that does not answer."""


def checksum(data):
    """Low byte of the sum of ``data``."""
    return sum(bytes(data)) & 0xFF


def encode_frame(sync, code, payload=b""):
    """One frame: sync, command or status, length, payload, checksum."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes; a frame holds at most "
                            f"{MAX_PAYLOAD}")
    body = bytes([code]) + struct.pack("<H", len(payload)) + payload
    return bytes([sync]) + body + bytes([checksum(body)])


@dataclass(frozen=True)
class Layout:
    """Byte sizes of a QNet's messages.

    Parameters
    ----------
    n_inputs, in_bits, n_classes, z_bits : int
        From the QNet (``z_bits`` of the last layer: the logit width).
    """

    n_inputs: int
    in_bits: int
    n_classes: int
    z_bits: int

    @classmethod
    def of(cls, qnet):
        return cls(qnet.input.n_inputs, qnet.input.bits, qnet.n_classes,
                   qnet.widths[-1].z_bits)

    @property
    def pixel_bytes(self):
        return 1 if self.in_bits <= 8 else 2

    @property
    def image_bytes(self):
        return self.n_inputs * self.pixel_bytes

    @property
    def logit_bytes(self):
        return (self.z_bits + 7) // 8

    def result_bytes(self, with_logits):
        return 6 + (self.n_classes * self.logit_bytes if with_logits else 0)

    def check(self):
        """Raise :class:`ProtocolError` when the QNet's messages do not fit a frame."""
        if self.image_bytes > MAX_PAYLOAD:
            raise ProtocolError(
                f"an image of {self.n_inputs} pixels needs {self.image_bytes} bytes; the "
                f"serial protocol carries at most {MAX_PAYLOAD} per frame")
        if self.n_classes > 0xFFFF or self.result_bytes(True) > MAX_PAYLOAD:
            raise ProtocolError(f"{self.n_classes} classes do not fit an answer frame")

    def encode_image(self, pixels):
        """The payload of an ``INFER`` request for one image."""
        pixels = np.asarray(pixels, dtype=np.int64).reshape(-1)
        if pixels.shape != (self.n_inputs,):
            raise ProtocolError(f"image: expected {self.n_inputs} pixels, got {pixels.size}")
        dtype = "<u1" if self.pixel_bytes == 1 else "<u2"
        return pixels.astype(dtype).tobytes()

    def decode_image(self, payload):
        dtype = "<u1" if self.pixel_bytes == 1 else "<u2"
        return np.frombuffer(bytes(payload), dtype=dtype).astype(np.int64)

    def encode_result(self, cls, cycles, logits=None):
        out = struct.pack("<HI", int(cls), int(cycles) & 0xFFFFFFFF)
        if logits is not None:
            mask = (1 << (8 * self.logit_bytes)) - 1
            out += b"".join((int(v) & mask).to_bytes(self.logit_bytes, "little")
                            for v in logits)
        return out

    def decode_result(self, payload, with_logits):
        payload = bytes(payload)
        if len(payload) != self.result_bytes(with_logits):
            raise ProtocolError(f"answer of {len(payload)} bytes; expected "
                                f"{self.result_bytes(with_logits)}")
        cls, cycles = struct.unpack_from("<HI", payload)
        logits = None
        if with_logits:
            raw = np.frombuffer(payload[6:], dtype=np.uint8).reshape(self.n_classes, -1)
            values = (raw.astype(np.int64) << (8 * np.arange(self.logit_bytes))).sum(axis=1)
            sign = np.int64(1) << (8 * self.logit_bytes - 1)
            logits = np.where(values >= sign, values - 2 * sign, values)
        return InferenceResult(cls, cycles, logits)


@dataclass(frozen=True)
class BoardInfo:
    """What ``INFO`` reports: the network built into the bitstream."""

    in_bits: int
    n_inputs: int
    n_classes: int
    logit_bytes: int
    clock_hz: int
    fingerprint: bytes
    version: int = VERSION

    @classmethod
    def of(cls, qnet, clock_hz):
        layout = Layout.of(qnet)
        return cls(layout.in_bits, layout.n_inputs, layout.n_classes, layout.logit_bytes,
                   int(clock_hz), fingerprint_prefix(qnet))

    def encode(self):
        return struct.pack(INFO_FORMAT, MAGIC, self.version, self.in_bits, self.n_inputs,
                           self.n_classes, self.logit_bytes, self.clock_hz, self.fingerprint)

    @classmethod
    def decode(cls, payload):
        payload = bytes(payload)
        if len(payload) != INFO_BYTES:
            raise ProtocolError(f"INFO answer of {len(payload)} bytes; expected {INFO_BYTES}")
        magic, version, in_bits, n_inputs, n_classes, logit_bytes, clock_hz, fingerprint = \
            struct.unpack(INFO_FORMAT, payload)
        if magic != MAGIC:
            raise ProtocolError(f"INFO answer starts with {magic!r}; expected {MAGIC!r} "
                                "(is this a mulfree bitstream?)")
        return cls(in_bits, n_inputs, n_classes, logit_bytes, clock_hz, fingerprint, version)


@dataclass(frozen=True)
class InferenceResult:
    """One answer: the class, the accelerator's cycle count and maybe the logits."""

    cls: int
    cycles: int
    logits: np.ndarray = None


def fingerprint_prefix(qnet):
    """The bytes of the QNet fingerprint a bitstream carries."""
    return bytes.fromhex(qnet.fingerprint())[:FINGERPRINT_BYTES]


class FrameReader:
    """Incremental parser of frames with a given sync byte.

    Feed bytes with :meth:`feed`; complete frames come back as
    ``(code, payload)``. Bytes before a sync byte are skipped; a frame with a
    bad checksum raises :class:`ProtocolError` and parsing resumes after it.
    """

    def __init__(self, sync):
        self._sync = sync
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += bytes(data)
        frames = []
        while True:
            start = self._buffer.find(bytes([self._sync]))
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return frames
            length = self._buffer[2] | self._buffer[3] << 8
            if len(self._buffer) < 5 + length:
                return frames
            frame = bytes(self._buffer[:5 + length])
            del self._buffer[:5 + length]
            if checksum(frame[1:-1]) != frame[-1]:
                raise ProtocolError(f"answer with a bad checksum: {frame[:8].hex()}…")
            frames.append((frame[1], frame[4:-1]))

    @property
    def pending(self):
        """Bytes held of an incomplete frame."""
        return len(self._buffer)
