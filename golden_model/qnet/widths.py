"""Worst-case bounds of every intermediate of a QNet, and the widths that hold them."""

from dataclasses import dataclass

import numpy as np

from .codes import arithmetic_shift, pow2_decode, pow2_encode, signed_bits, unsigned_bits
from .layers import MAX_WIDTH, QConv2D, QFlatten, QMaxPool2D, _fail


@dataclass(frozen=True)
class LayerWidths:
    """Worst-case bounds of one layer's intermediates and the widths that hold them.

    ``in_*`` is the range of the layer's input values (after the previous
    layer's saturation and power-of-two code); ``acc_*`` of ``W @ a``;
    ``sum_*`` of ``acc + b``; ``z_*`` of the shifted value; ``out_*`` of what
    the layer hands on (saturated activation, or its power-of-two value; for
    the last layer the logits, i.e. ``z``). All ``*_bits`` are two's-complement
    widths except ``in_bits``, which is unsigned where ``in_min >= 0``.

    A convolution's ``in_*`` also covers its padding value (its adders see
    it); a max pool or flatten does no arithmetic, so every range is its
    input's.
    """

    in_min: int
    in_max: int
    in_bits: int
    in_signed: bool
    acc_min: int
    acc_max: int
    acc_bits: int
    sum_min: int
    sum_max: int
    sum_bits: int
    z_min: int
    z_max: int
    z_bits: int
    out_min: int
    out_max: int

    def to_json(self):
        return {name: (bool(v) if isinstance(v, bool | np.bool_) else int(v))
                for name, v in self.__dict__.items()}


def activation_range(layer, z_lo, z_hi):
    """Inclusive bounds of the saturated activation for ``z`` in ``[z_lo, z_hi]``."""
    if layer.activation == "linear":
        lo, hi = z_lo, z_hi
    elif layer.activation == "tlin":
        # A threshold sends any z to 0, so 0 is reachable whatever the range.
        lo, hi = min(z_lo, 0), max(z_hi, 0)
    else:
        lo, hi = 0, max(z_hi, 0)
    sat_lo, sat_hi = layer.saturation_range()
    return min(max(lo, sat_lo), sat_hi), max(min(hi, sat_hi), sat_lo)


def _check_left_shift(k, sum_min, sum_max, shift):
    """Refuse a negative shift that would carry ``z`` past ``MAX_WIDTH`` bits.

    Checked before shifting: in int64 the shifted bound could wrap around and
    look small.
    """
    left = np.maximum(-np.asarray(shift, dtype=np.int64), 0)
    if not left.any():
        return
    # Exact two's-complement width of the shifted bounds, in Python integers.
    needed = max(
        signed_bits(int(lo) << int(s), int(hi) << int(s))
        for lo, hi, s in zip(sum_min, sum_max, left, strict=True)
    )
    if needed > MAX_WIDTH:
        _fail(f"layers[{k}] z_bits", f"at most {MAX_WIDTH} bits", needed)


def _pass_through(lo, hi):
    """Widths of a layer without arithmetic (pool, flatten): every stage holds its input."""
    bits = signed_bits(lo, hi)
    return LayerWidths(
        in_min=int(lo), in_max=int(hi), in_signed=bool(lo < 0),
        in_bits=int(bits if lo < 0 else unsigned_bits(hi)),
        acc_min=int(lo), acc_max=int(hi), acc_bits=bits, sum_min=int(lo), sum_max=int(hi),
        sum_bits=bits, z_min=int(lo), z_max=int(hi), z_bits=bits, out_min=int(lo),
        out_max=int(hi))


def compute_widths(qnet):
    """Per layer, the :class:`LayerWidths` of its worst case over every valid input.

    A convolution's bound counts each kernel position as any value of its
    input range or its padding value.
    """
    widths = []
    lo, hi = 0, (1 << qnet.input.bits) - 1
    last = len(qnet.layers) - 1
    for k, layer in enumerate(qnet.layers):
        if isinstance(layer, QMaxPool2D | QFlatten):
            widths.append(_pass_through(lo, hi))
            continue
        if isinstance(layer, QConv2D):
            w = layer.matrix
            if any(any(pad) for pad in layer.pads):
                # The adders also see the padding.
                lo = min(lo, int(layer.pad_value.min()))
                hi = max(hi, int(layer.pad_value.max()))
        else:
            w = layer.weights.astype(np.int64)
        pos = (w > 0).sum(axis=1)
        neg = (w < 0).sum(axis=1)
        acc_max = pos * hi - neg * lo
        acc_min = pos * lo - neg * hi
        bias = layer.bias.astype(np.int64)
        sum_min, sum_max = acc_min + bias, acc_max + bias
        _check_left_shift(k, sum_min, sum_max, layer.shift)
        z_min = arithmetic_shift(sum_min, layer.shift)
        z_max = arithmetic_shift(sum_max, layer.shift)
        in_signed = lo < 0
        in_bits = signed_bits(lo, hi) if in_signed else unsigned_bits(hi)
        if k == last:
            out_min, out_max = int(z_min.min()), int(z_max.max())
        else:
            y_lo, y_hi = activation_range(layer, int(z_min.min()), int(z_max.max()))
            if layer.pow2:
                out_min = int(pow2_decode(*pow2_encode(y_lo, layer.e_max)))
                out_max = int(pow2_decode(*pow2_encode(y_hi, layer.e_max)))
            else:
                out_min, out_max = y_lo, y_hi
        entry = LayerWidths(
            in_min=int(lo), in_max=int(hi), in_bits=int(in_bits), in_signed=bool(in_signed),
            acc_min=int(acc_min.min()), acc_max=int(acc_max.max()),
            acc_bits=signed_bits(acc_min.min(), acc_max.max()),
            sum_min=int(sum_min.min()), sum_max=int(sum_max.max()),
            sum_bits=signed_bits(sum_min.min(), sum_max.max()),
            z_min=int(z_min.min()), z_max=int(z_max.max()),
            z_bits=signed_bits(z_min.min(), z_max.max()),
            out_min=int(out_min), out_max=int(out_max),
        )
        for name in ("acc_bits", "sum_bits", "z_bits"):
            if getattr(entry, name) > MAX_WIDTH:
                _fail(f"layers[{k}] {name}", f"at most {MAX_WIDTH} bits",
                      getattr(entry, name))
        widths.append(entry)
        lo, hi = out_min, out_max
    return widths
