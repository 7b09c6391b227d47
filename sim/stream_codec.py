"""Packing images into input beats and unpacking output payloads, vectorised.

The accelerator's flattened ports (see the Accelerator contract):

- ``i__payload``: ``in_lanes`` pixels of ``bits`` each, lane ``k`` at bits
  ``[k*bits, (k+1)*bits)``; ``ceil(n_inputs / in_lanes)`` beats per image,
  the padding lanes of the last beat are zero.
- ``o__payload``: ``cls`` in the low ``class_bits`` bits, then logit ``c`` at
  ``class_bits + c*z_bits``, two's complement.

Payloads wider than 64 bits are handled as bit matrices, so nothing here
depends on the widths fitting a machine word.

Members
-------
StreamFormat
    The port widths of one accelerator.
class_bits
encode_beats, beats_to_hex, hex_to_bits
decode_outputs
write_stimulus, read_responses
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden_model.output_files import write_text
from sim.harness import RESPONSES_FILE, STIMULUS_FILE


def class_bits(n_classes):
    """Width of the class field: ``max(1, ceil(log2(n_classes)))``."""
    return max(1, (int(n_classes) - 1).bit_length())


@dataclass(frozen=True)
class StreamFormat:
    """Port widths of one accelerator.

    Members
    -------
    n_inputs, bits, in_lanes : int
    n_classes, z_bits : int
    """

    n_inputs: int
    bits: int
    in_lanes: int
    n_classes: int
    z_bits: int

    @classmethod
    def of(cls, qnet, in_lanes=1):
        return cls(qnet.input.n_inputs, qnet.input.bits, int(in_lanes), qnet.n_classes,
                   qnet.widths[-1].z_bits)

    @property
    def beats_per_image(self):
        return math.ceil(self.n_inputs / self.in_lanes)

    @property
    def in_width(self):
        return self.bits * self.in_lanes

    @property
    def class_bits(self):
        return class_bits(self.n_classes)

    @property
    def out_width(self):
        return self.class_bits + self.n_classes * self.z_bits


def _to_bits(values, width):
    """Little-endian bit matrix ``(..., width)`` of non-negative integers."""
    values = np.asarray(values, dtype=np.uint64)
    return ((values[..., None] >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8)


def encode_beats(images, fmt):
    """Input beats of a batch of images as a bit matrix.

    Parameters
    ----------
    images : array_like of int, shape (n, n_inputs)
    fmt : StreamFormat

    Returns
    -------
    ndarray of uint8, shape (n * beats_per_image, in_width)
        Bit ``b`` of beat ``t`` (little-endian).
    """
    images = np.asarray(images, dtype=np.int64)
    n = images.shape[0]
    padded = np.zeros((n, fmt.beats_per_image * fmt.in_lanes), dtype=np.int64)
    padded[:, :fmt.n_inputs] = images
    lanes = padded.reshape(n * fmt.beats_per_image, fmt.in_lanes)
    return _to_bits(lanes, fmt.bits).reshape(lanes.shape[0], fmt.in_width)


def beats_to_hex(bits):
    """Hex strings (most significant digit first) of little-endian bit rows."""
    bits = np.asarray(bits, dtype=np.uint8)
    width = bits.shape[1]
    digits = -(-width // 4)
    padded = np.zeros((bits.shape[0], digits * 4), dtype=np.uint8)
    padded[:, :width] = bits
    nibbles = padded.reshape(bits.shape[0], digits, 4) @ np.array([1, 2, 4, 8], dtype=np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles[:, ::-1]]
    return [row.tobytes().decode() for row in chars]


def hex_to_bits(strings, width):
    """Little-endian bit rows ``(n, width)`` of hex strings (``x``/``z`` digits raise)."""
    if not strings:
        return np.zeros((0, width), dtype=np.uint8)
    digits = -(-width // 4)
    text = "".join(s.rjust(digits, "0")[-digits:] for s in strings).lower()
    if any(c in text for c in "xz"):
        raise ValueError("output payload has x/z bits (an undriven or uninitialised signal)")
    raw = np.frombuffer(text.encode(), dtype=np.uint8).reshape(len(strings), digits)
    values = np.where(raw >= ord("a"), raw - ord("a") + 10, raw - ord("0")).astype(np.uint8)
    bits = ((values[:, ::-1, None] >> np.arange(4, dtype=np.uint8)) & 1).reshape(
        len(strings), digits * 4)
    return bits[:, :width]


def _field(bits, offset, width, signed):
    weights = np.int64(1) << np.arange(width, dtype=np.int64)
    value = bits[..., offset:offset + width].astype(np.int64) @ weights
    if signed:
        value = np.where(value >= (np.int64(1) << (width - 1)), value - (np.int64(1) << width),
                         value)
    return value


def decode_outputs(bits, fmt):
    """``(classes (n,), logits (n, n_classes))`` from output payload bit rows."""
    bits = np.asarray(bits, dtype=np.uint8)
    classes = _field(bits, 0, fmt.class_bits, signed=False)
    logits = np.stack([_field(bits, fmt.class_bits + c * fmt.z_bits, fmt.z_bits, signed=True)
                       for c in range(fmt.n_classes)], axis=-1) if len(bits) else np.zeros(
        (0, fmt.n_classes), dtype=np.int64)
    return classes, logits.astype(np.int64)


def encode_payload_ints(images, fmt):
    """Input beats as Python integers (for driving ``i__payload`` from cocotb)."""
    bits = encode_beats(images, fmt)
    return [int(h, 16) for h in beats_to_hex(bits)]


def decode_payload_ints(values, fmt):
    """Like :func:`decode_outputs`, from Python integers read off ``o__payload``."""
    strings = [format(int(v), "x") for v in values]
    return decode_outputs(hex_to_bits(strings, fmt.out_width), fmt)


def write_stimulus(directory, images, fmt):
    """Write the harness's stimulus file for ``images``; returns its path."""
    lines = beats_to_hex(encode_beats(images, fmt))
    path = Path(directory) / STIMULUS_FILE
    write_text(path, f"{len(lines):x}\n" + "\n".join(lines) + "\n")
    return path


@dataclass
class Responses:
    """What the harness recorded in one bulk run.

    Members
    -------
    classes, logits : ndarray of int64
        Decoded output transfers, in order.
    out_cycles : ndarray of int64
        Cycle of each output transfer.
    in_cycles : ndarray of int64
        Cycle at which each image's first beat transferred.
    end_cycle : int or None
        Cycle of the last output (None if the run did not finish).
    """

    classes: np.ndarray
    logits: np.ndarray
    out_cycles: np.ndarray
    in_cycles: np.ndarray
    end_cycle: int | None


def read_responses(directory, fmt):
    """Parse the harness's responses file in ``directory``."""
    outs, out_cycles, in_cycles, end = [], [], [], None
    for line in (Path(directory) / RESPONSES_FILE).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "o":
            out_cycles.append(int(parts[1]))
            outs.append(parts[2])
        elif parts[0] == "i":
            in_cycles.append(int(parts[1]))
        elif parts[0] == "e":
            end = int(parts[1])
    classes, logits = decode_outputs(hex_to_bits(outs, fmt.out_width), fmt)
    return Responses(classes, logits, np.array(out_cycles, dtype=np.int64),
                     np.array(in_cycles, dtype=np.int64), end)
