"""The serial protocol of a training board (the trainer of :mod:`hdl.trainer` behind a UART).

The frames, checksum and error statuses are those of :mod:`boards.protocol`
(``A5 cmd len payload sum`` in, ``5A status len payload sum`` out); the
command codes are their own, so a training host never mistakes an inference
bitstream for a training one (it answers ``BAD_COMMAND``).

State words: every memory word of the trainer (see :mod:`hdl.trainer.plan`)
travels as :attr:`TrainInfo.word_bytes` little-endian bytes, two's-complement
lanes packed as the plan packs them. Memory ``sel`` is ``2k`` for layer
``k``'s shadow weights, ``2k + 1`` for its biases and ``2L`` (one word) for
the step counter ``t`` (mod ``2**32``).

Commands:

``TRAIN_INFO`` (no payload)
    ``"MFQT"``, version, input bits (u8), ``n_inputs`` (u32), word bytes
    (u16), clock in Hz (u32), the 16-byte plan fingerprint, the number of
    layers (u8) and per layer ``n_out``, ``pe``, ``simd`` (u16 each) and
    whether its shadows are in SPRAM (u8; version 2).
``LOAD_STATE`` (``sel`` u8, address u16, one word)
    Writes the word once the checksum is checked; an empty answer, or
    ``BAD_ADDRESS`` (nothing written) for a ``sel`` or address outside the
    memories.
``READ_STATE`` (``sel`` u8, address u16, count u16)
    ``count`` words from ``address`` on; ``BAD_ADDRESS`` when they are not all
    inside memory ``sel`` or take more than a frame.
``TRAIN`` (the image, one byte per pixel or two above 8 bits, then the label u16)
    One QTrain step; the answer is the class of the forward before the
    update (u16) and the trainer's cycles from the first pixel offered to
    ready again (u32). ``BAD_LABEL`` (nothing trained) for a label past the
    classes.
``EVAL`` (the image, as TRAIN's, no label)
    The forward only, with the deterministic weights (the exported QNet's);
    the state and the step stay. The answer is as TRAIN's: the class (u16)
    and the trainer's cycles (u32). New in version 2.
"""

import hashlib
import json
import struct
from dataclasses import asdict, dataclass

import numpy as np

from boards.protocol import MAX_PAYLOAD, ProtocolError

CMD_TRAIN_INFO = 0x21
CMD_LOAD_STATE = 0x22
CMD_READ_STATE = 0x23
CMD_TRAIN = 0x24
CMD_EVAL = 0x25
TRAIN_COMMANDS = (CMD_TRAIN_INFO, CMD_LOAD_STATE, CMD_READ_STATE, CMD_TRAIN, CMD_EVAL)

#: A TRAIN label outside the network's classes (the trainer is not started).
STATUS_BAD_LABEL = 0xEA
TRAIN_STATUS_NAMES = {STATUS_BAD_LABEL: "label past the classes"}

TRAIN_MAGIC = b"MFQT"
#: Version 2 added EVAL and the SPRAM flag of each layer in TRAIN_INFO.
TRAIN_VERSION = 2
PLAN_FINGERPRINT_BYTES = 16
TRAIN_INFO_FORMAT = "<4sBBIHI16sB"
TRAIN_INFO_LAYER_FORMAT = "<HHHB"
TRAIN_RESULT_BYTES = 6
READ_REQUEST_FORMAT = "<BHH"
LOAD_HEADER_FORMAT = "<BH"


def word_bytes(plan):
    """Bytes of one state word: the widest memory word, at least the 32-bit step."""
    bits = max(max(lp.shadow_word_bits, lp.bias_word_bits) for lp in plan.layers)
    return max(4, (bits + 7) // 8)


def memory_depths(plan):
    """Words of every memory, by ``sel`` (the step counter last, one word)."""
    depths = []
    for lp in plan.layers:
        depths += [lp.depth, lp.row_groups]
    return depths + [1]


def max_read_words(plan):
    """The most words one READ_STATE answer carries."""
    return MAX_PAYLOAD // word_bytes(plan)


def pixel_bytes(plan):
    return 1 if plan.input_bits <= 8 else 2


def train_request_bytes(plan):
    """Payload bytes of a TRAIN request: the image and the label."""
    return eval_request_bytes(plan) + 2


def eval_request_bytes(plan):
    """Payload bytes of an EVAL request: the image."""
    return plan.n_inputs * pixel_bytes(plan)


def plan_fingerprint(plan):
    """The first bytes of a SHA-256 of everything the plan fixes in the hardware."""
    text = json.dumps(asdict(plan), sort_keys=True, default=int)
    return hashlib.sha256(text.encode()).digest()[:PLAN_FINGERPRINT_BYTES]


@dataclass(frozen=True)
class TrainInfo:
    """What ``TRAIN_INFO`` reports: the trainer built into the bitstream."""

    input_bits: int
    n_inputs: int
    word_bytes: int
    clock_hz: int
    fingerprint: bytes
    layers: tuple           # (n_out, pe, simd, shadows in SPRAM) per layer
    version: int = TRAIN_VERSION

    @classmethod
    def of(cls, plan, clock_hz):
        return cls(plan.input_bits, plan.n_inputs, word_bytes(plan), int(clock_hz),
                   plan_fingerprint(plan),
                   tuple((lp.n_out, lp.pe, lp.simd, int(lp.spram)) for lp in plan.layers))

    @property
    def folding(self):
        return [(pe, simd) for _, pe, simd, _ in self.layers]

    @property
    def spram(self):
        """The layers whose shadows are in SPRAM."""
        return tuple(k for k, layer in enumerate(self.layers) if layer[3])

    @property
    def sizes(self):
        return [self.n_inputs] + [n_out for n_out, _, _, _ in self.layers]

    def encode(self):
        out = struct.pack(TRAIN_INFO_FORMAT, TRAIN_MAGIC, self.version, self.input_bits,
                          self.n_inputs, self.word_bytes, self.clock_hz, self.fingerprint,
                          len(self.layers))
        for layer in self.layers:
            out += struct.pack(TRAIN_INFO_LAYER_FORMAT, *layer)
        return out

    @classmethod
    def decode(cls, payload):
        payload = bytes(payload)
        fixed = struct.calcsize(TRAIN_INFO_FORMAT)
        if len(payload) < fixed:
            raise ProtocolError(f"TRAIN_INFO answer of {len(payload)} bytes; expected at "
                                f"least {fixed}")
        magic, version, input_bits, n_inputs, wbytes, clock_hz, fingerprint, n_layers = \
            struct.unpack_from(TRAIN_INFO_FORMAT, payload)
        if magic != TRAIN_MAGIC:
            raise ProtocolError(f"TRAIN_INFO answer starts with {magic!r}; expected "
                                f"{TRAIN_MAGIC!r} (is this a mulfree training bitstream?)")
        if version != TRAIN_VERSION:
            raise ProtocolError(f"the board speaks training protocol version {version}; this "
                                f"host expects {TRAIN_VERSION} (rebuild the bitstream)")
        size = struct.calcsize(TRAIN_INFO_LAYER_FORMAT)
        if len(payload) != fixed + n_layers * size:
            raise ProtocolError(f"TRAIN_INFO answer of {len(payload)} bytes; expected "
                                f"{fixed + n_layers * size}")
        layers = tuple(struct.unpack_from(TRAIN_INFO_LAYER_FORMAT, payload, fixed + k * size)
                       for k in range(n_layers))
        return cls(input_bits, n_inputs, wbytes, clock_hz, fingerprint, layers, version)


def encode_word(value, n_bytes):
    return (int(value) & ((1 << (8 * n_bytes)) - 1)).to_bytes(n_bytes, "little")


def encode_load_state(sel, address, word, n_bytes):
    """The payload of a LOAD_STATE request."""
    return struct.pack(LOAD_HEADER_FORMAT, sel, address) + encode_word(word, n_bytes)


def encode_read_state(sel, address, count):
    return struct.pack(READ_REQUEST_FORMAT, sel, address, count)


def decode_words(payload, n_bytes):
    """The words of a READ_STATE answer, as Python ints."""
    payload = bytes(payload)
    if len(payload) % n_bytes:
        raise ProtocolError(f"READ_STATE answer of {len(payload)} bytes; expected whole "
                            f"words of {n_bytes}")
    return [int.from_bytes(payload[k:k + n_bytes], "little")
            for k in range(0, len(payload), n_bytes)]


def encode_eval(plan, pixels):
    """The payload of an EVAL request (the image)."""
    pixels = np.asarray(pixels, dtype=np.int64).reshape(-1)
    if pixels.shape != (plan.n_inputs,):
        raise ProtocolError(f"image: expected {plan.n_inputs} pixels, got {pixels.size}")
    dtype = "<u1" if pixel_bytes(plan) == 1 else "<u2"
    return pixels.astype(dtype).tobytes()


def encode_train(plan, pixels, label):
    """The payload of a TRAIN request."""
    return encode_eval(plan, pixels) + struct.pack("<H", int(label))


def decode_eval(plan, payload):
    """The pixels of an EVAL payload."""
    dtype = "<u1" if pixel_bytes(plan) == 1 else "<u2"
    return np.frombuffer(bytes(payload), dtype=dtype).astype(np.int64)


def decode_train(plan, payload):
    """``(pixels, label)`` of a TRAIN payload."""
    dtype = "<u1" if pixel_bytes(plan) == 1 else "<u2"
    pixels = np.frombuffer(bytes(payload[:-2]), dtype=dtype).astype(np.int64)
    return pixels, struct.unpack("<H", bytes(payload[-2:]))[0]


def decode_train_result(payload):
    """``(class, cycles)`` of a TRAIN or EVAL answer."""
    if len(payload) != TRAIN_RESULT_BYTES:
        raise ProtocolError(f"TRAIN or EVAL answer of {len(payload)} bytes; expected "
                            f"{TRAIN_RESULT_BYTES}")
    return struct.unpack("<HI", bytes(payload))
