"""Activation quantizer for quantization-aware training: B-bit integers or powers of two.

The integer helpers (:func:`saturate`, and the QNet's own
:func:`~golden_model.qnet.pow2_encode`) are the arithmetic of the QNet's
requantize tail, so float model and integer network agree code for code.
"""

import numpy as np

from .errors import MulfreeError
from .qnet import code_range, pow2_decode, pow2_encode

ACT_QUANT_MODES = ("int", "pow2")


def saturate(codes, bits, signed):
    """Clip integer codes to ``bits`` bits, signed or unsigned."""
    low, high = code_range(bits, signed)
    return np.clip(codes, low, high)


def pow2_value(codes, e_max):
    """``sign * 2**e`` of the QNet's :func:`~golden_model.qnet.pow2_encode`, as int64."""
    return pow2_decode(*pow2_encode(codes, e_max))


class ActQuant:
    """Quantize activations to ``code * 2**-frac_bits`` (straight-through).

    Forward, in the QNet's order: round onto the grid,
    ``code = floor(u * 2**frac_bits + 0.5)``; saturate the code to ``bits``
    bits (unsigned after relu/trec, signed after tlin/linear); in ``pow2``
    mode replace the code by the QNet's power-of-two ``sign * 2**e``. The value
    passed on is ``code * 2**-frac_bits``. The threshold unit sits in the
    preceding :class:`~golden_model.activations.Activation`, which rounds to
    the same grid before comparing.

    Backward: straight-through where the code did not saturate, 0 where it
    did (the rounding and the power-of-two encoding count as identity).

    Parameters
    ----------
    mode : {"int", "pow2"}
    bits : int
        ``B``, the saturation width.
    signed : bool
    frac_bits : int
        ``f``: the step is ``2**-f`` (may be negative for steps above 1).
    e_max : int, optional
        Largest power-of-two exponent (pow2 mode); default ``bits - 1`` for
        unsigned and ``bits - 2`` for signed codes.

    Members
    -------
    mode, bits, signed, frac_bits, e_max : as given
    step : float
        ``2.0 ** -frac_bits``.
    """

    def __init__(self, mode="int", bits=8, signed=False, frac_bits=4, e_max=None):
        if mode not in ACT_QUANT_MODES:
            raise MulfreeError(f"activation quantizer mode {mode!r}: expected one of "
                               f"{ACT_QUANT_MODES}")
        if not 1 <= int(bits) <= 32 or (signed and int(bits) < 2):
            raise MulfreeError(f"activation bits={bits}: expected 1..32 (2..32 when signed)")
        self.mode = mode
        self.bits = int(bits)
        self.signed = bool(signed)
        self.frac_bits = int(frac_bits)
        default_e_max = self.bits - 2 if self.signed else self.bits - 1
        self.e_max = default_e_max if e_max is None else int(e_max)
        self.step = 2.0**-self.frac_bits
        self._pass = None

    def __repr__(self):
        return (f"ActQuant({self.mode!r}, bits={self.bits}, signed={self.signed}, "
                f"frac_bits={self.frac_bits}, e_max={self.e_max})")

    def parameters(self):
        return []

    def codes(self, u):
        """The integer codes (after saturation, before power-of-two encoding)."""
        raw = np.floor(np.asarray(u, np.float64) * 2.0**self.frac_bits + 0.5)
        return saturate(raw, self.bits, self.signed).astype(np.int64)

    def forward(self, u, mode):
        scaled = u * np.float32(2.0**self.frac_bits)
        raw = np.floor(scaled + np.float32(0.5))
        low, high = code_range(self.bits, self.signed)
        code = np.clip(raw, low, high)
        if mode.train:
            self._pass = (raw >= low) & (raw <= high)
        if self.mode == "pow2":
            code = pow2_value(code.astype(np.int64), self.e_max).astype(np.float32)
        return code * np.float32(self.step)

    def backward(self, grad):
        return grad * self._pass
