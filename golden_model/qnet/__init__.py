"""The QNet: an integer-only network, its golden forward and its file format.

A QNet is the one contract between the trained model and the hardware. Its
integer forward (:meth:`QNet.forward`) is the reference that every hardware
check compares against, exactly. The semantics (see ``DESIGN.md``):

- input ``x``: ``n_inputs`` unsigned integers, ``0 <= x < 2**input.bits``;
- (format version 2) convolution, max-pool and flatten layers on
  channels-last maps, see :class:`QConv2D`, :class:`QMaxPool2D`, :class:`QFlatten`;
- dense layer ``k``: ``acc[j] = sum_i W[j, i] * a[i]`` with ``W`` in
  {-1, 0, +1} (``ternary``) or {-1, +1} (``binary``);
- requantize: ``z[j] = (acc[j] + b[j]) >> s[j]`` (arithmetic shift, floor);
  a negative ``s[j]`` is a left shift by ``-s[j]``;
- activation on the integer ``z``: ``relu`` ``max(z, 0)``; ``trec``
  ``z if z > t[j] else 0``; ``tlin`` ``z if |z| > t[j] else 0``; ``linear``
  ``z``; then saturate to ``out_bits`` bits, unsigned for relu/trec, signed
  for tlin/linear;
- optional power-of-two code: ``y != 0`` becomes ``sign * 2**e`` with ``e``
  the position of the leading one of ``|y|``, plus one if the next lower bit
  is set, clamped to ``[0, e_max]``; ``0`` stays ``0``;
- the last layer's ``z`` (no activation, no saturation) is the logit vector;
  the class is the argmax, lowest index on ties.

Members
-------
InputSpec, QLayer, QConv2D, QMaxPool2D, QFlatten, LayerWidths, QNet
    The data model.
pow2_encode, pow2_decode
    The power-of-two activation code.
signed_bits, unsigned_bits, code_range
    Bit widths that hold an integer range, and the range of a width.
"""

from .codes import (
    arithmetic_shift,
    code_range,
    pow2_decode,
    pow2_encode,
    signed_bits,
    unsigned_bits,
)
from .file_format import FORMAT_NAME, FORMAT_VERSION
from .layers import (
    ACTIVATIONS,
    MAX_E_MAX,
    MAX_INPUT_BITS,
    MAX_OUT_BITS,
    MAX_SHIFT,
    MAX_WIDTH,
    UNSIGNED_ACTIVATIONS,
    WEIGHT_MODES,
    InputSpec,
    QConv2D,
    QFlatten,
    QLayer,
    QMaxPool2D,
)
from .model import QNet
from .widths import LayerWidths

__all__ = [
    "ACTIVATIONS", "FORMAT_NAME", "FORMAT_VERSION", "MAX_E_MAX", "MAX_INPUT_BITS",
    "MAX_OUT_BITS", "MAX_SHIFT", "MAX_WIDTH", "UNSIGNED_ACTIVATIONS", "WEIGHT_MODES",
    "InputSpec", "LayerWidths", "QConv2D", "QFlatten", "QLayer", "QMaxPool2D", "QNet",
    "arithmetic_shift", "code_range", "pow2_decode", "pow2_encode", "signed_bits", "unsigned_bits",
]
