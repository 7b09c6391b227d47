"""The integer codes of a QNet: bit widths, code ranges, shifts and the power-of-two code.

Members
-------
signed_bits, unsigned_bits, code_range
    Bit widths that hold an integer range, and the range of a width.
pow2_encode, pow2_decode
    The power-of-two activation code.
arithmetic_shift
    The requantizer's shift: floor right shift, or left shift where negative.
"""

import numpy as np


def signed_bits(lo, hi):
    """Smallest two's-complement width that holds every integer in ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : int
        The inclusive range.

    Returns
    -------
    int
        Width ``w >= 1`` with ``-2**(w-1) <= lo`` and ``hi <= 2**(w-1) - 1``.
    """
    lo, hi = int(lo), int(hi)
    return 1 + max(hi.bit_length() if hi > 0 else 0, (-lo - 1).bit_length() if lo < 0 else 0)


def unsigned_bits(hi):
    """Smallest unsigned width (at least 1) that holds ``[0, hi]``."""
    return max(1, int(hi).bit_length())


def code_range(bits, signed):
    """Inclusive ``(low, high)`` of a ``bits``-bit code."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def pow2_encode(y, e_max):
    """Power-of-two code of integer activations.

    Parameters
    ----------
    y : array_like of int
        Saturated activations.
    e_max : int
        Largest exponent.

    Returns
    -------
    sign : ndarray of int64
        -1, 0 or +1 (0 exactly where ``y == 0``).
    exponent : ndarray of int64
        ``e`` in ``[0, e_max]`` where ``y != 0``, else 0.
    """
    y = np.asarray(y, dtype=np.int64)
    magnitude = np.abs(y)
    # Leading-one position from the float64 exponent; above 2**53 the
    # conversion may round up to the next power of two, which the shift undoes.
    lead = np.maximum(np.frexp(magnitude.astype(np.float64))[1].astype(np.int64) - 1, 0)
    lead -= (magnitude >> lead) == 0
    lead = np.maximum(lead, 0)
    below = np.where(lead > 0, (magnitude >> np.maximum(lead - 1, 0)) & 1, 0)
    exponent = np.clip(lead + below, 0, e_max)
    sign = np.sign(y)
    return sign, np.where(sign == 0, 0, exponent)


def pow2_decode(sign, exponent):
    """Integer value ``sign * 2**exponent`` of a power-of-two code."""
    return np.asarray(sign, dtype=np.int64) << np.asarray(exponent, dtype=np.int64)


def arithmetic_shift(values, shift):
    """``values >> shift`` (floor) where ``shift >= 0``, ``values << -shift`` elsewhere."""
    values = np.asarray(values, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    return np.where(shift >= 0, values >> np.maximum(shift, 0), values << np.maximum(-shift, 0))
