"""Binary, ternary and power-of-two quantizers.

Weights: BinaryConnect (Courbariaux et al. 2015) and TernaryConnect (Lin et al.
2016). The stochastic forms are unbiased, ``E[q(W)] = W`` for ``|W| <= W0``;
the deterministic forms are what the hardware runs.

Inputs of the weight-gradient product: quantized back-propagation (Lin et al.
2016) rounds each value to a signed power of two, again unbiased.
"""

import numpy as np


def binarize(w, w0, rng=None):
    """Binarize shadow weights to integer signs in ``{-1, +1}``.

    Parameters
    ----------
    w : numpy.ndarray
        Shadow weights, normally within ``[-w0, w0]``.
    w0 : float
        The weight magnitude ``W0``.
    rng : numpy.random.Generator, optional
        If given, stochastic: ``+1`` with probability
        ``clip((w / w0 + 1) / 2, 0, 1)``. If None, deterministic: ``sign(w)``
        with ``0 -> +1``.

    Returns
    -------
    numpy.ndarray of int8
        The signs; the quantized weight is ``signs * w0``.
    """
    return np.where(binary_plus(w, w0, rng), 1, -1).astype(np.int8)


def binary_plus(w, w0, rng=None):
    """Where :func:`binarize` gives ``+1`` (a boolean mask; same random draws)."""
    if rng is None:
        return w >= 0
    p_plus = np.clip((w / w0 + 1) * 0.5, 0, 1)
    return rng.random(w.shape, dtype=np.float32) < p_plus


def ternarize(w, w0, rng=None):
    """Ternarize shadow weights to integers in ``{-1, 0, +1}``.

    Parameters
    ----------
    w : numpy.ndarray
        Shadow weights, normally within ``[-w0, w0]``.
    w0 : float
        The weight magnitude ``W0``.
    rng : numpy.random.Generator, optional
        If given, stochastic: ``sign(w)`` with probability
        ``clip(|w| / w0, 0, 1)``, else 0. If None, deterministic:
        ``sign(w)`` where ``|w| > w0 / 2``, else 0.

    Returns
    -------
    numpy.ndarray of int8
        The trits; the quantized weight is ``trits * w0``.
    """
    return np.where(ternary_keep(w, w0, rng), np.sign(w), 0).astype(np.int8)


def ternary_keep(w, w0, rng=None):
    """Where :func:`ternarize` gives a non-zero (a boolean mask; same random draws)."""
    if rng is None:
        return np.abs(w) > 0.5 * w0
    return rng.random(w.shape, dtype=np.float32) < np.abs(w) / w0


def quantized_values(w, w0, mode, alpha, rng=None):
    """``W_int * alpha`` as float32, straight from the masks (the training hot path).

    Equal to ``binarize(...) * alpha`` or ``ternarize(...) * alpha`` with the
    same random draws.
    """
    alpha = np.float32(alpha)
    if mode == "binary":
        return np.where(binary_plus(w, w0, rng), alpha, -alpha)
    return np.where(ternary_keep(w, w0, rng), np.copysign(alpha, w), np.float32(0))


def pow2_round(x, rng=None, k_min=-4, k_max=3):
    """Round to a signed power of two ``sign(x) * 2**k`` (or to 0).

    For ``2**k_min <= |x| < 2**(k_max+1)`` with ``k = floor(log2|x|)``: the
    result is ``2**(k+1)`` with probability ``|x| / 2**k - 1``, else
    ``2**k`` (stochastic, unbiased), or the nearer of the two with ties going
    up (deterministic). Exponents are clipped to ``[k_min, k_max]``: above the
    range the result saturates at ``2**k_max``; below it, ``|x|`` rounds
    between 0 and ``2**k_min`` the same way (probability ``|x| / 2**k_min``),
    which keeps the stochastic form unbiased all the way down to zero. Exact
    zeros stay zero.

    Parameters
    ----------
    x : numpy.ndarray
        Values to round (float32 or float64; the result has the same dtype).
    rng : numpy.random.Generator, optional
        Stochastic rounding if given, round-to-nearest if None.
    k_min, k_max : int
        The exponent range.

    Returns
    -------
    numpy.ndarray
        Powers of two (with sign) or zeros, same shape and dtype as ``x``.
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return _pow2_round_float32(x, rng, k_min, k_max)
    mag = np.abs(x)
    mantissa, exponent = np.frexp(mag)  # mag = mantissa * 2**exponent, mantissa in [0.5, 1)
    floor_k = exponent - 1
    small = mag < np.ldexp(1.0, k_min)
    # Fraction of the way from 2**k to 2**(k+1) (or from 0 to 2**k_min).
    frac = np.where(small, np.ldexp(mag, -k_min), 2 * mantissa - 1)
    if rng is None:
        up = frac >= 0.5
    else:
        up = rng.random(x.shape, dtype=np.float32) < frac
    k = np.minimum(np.where(small, k_min, floor_k + up), k_max)
    result = np.ldexp(np.ones_like(x), k.astype(np.int32))
    result = np.where(small & ~up, 0, result)
    return (np.sign(x) * result).astype(x.dtype, copy=False)


_EXPONENT_BIAS = 127


def _pow2_round_float32(x, rng, k_min, k_max):
    """:func:`pow2_round` on the IEEE-754 fields of float32: same results, a few passes."""
    bits = np.ascontiguousarray(x).view(np.uint32)
    mag_bits = bits & np.uint32(0x7FFFFFFF)
    biased = (mag_bits >> np.uint32(23)).astype(np.int32)
    # 1.mantissa - 1: how far |x| lies from 2**k towards 2**(k+1), exactly.
    frac = (mag_bits & np.uint32(0x7FFFFF) | np.uint32(0x3F800000)).view(np.float32) - 1
    small = biased < k_min + _EXPONENT_BIAS
    frac = np.where(small, mag_bits.view(np.float32) * np.float32(2.0**-k_min), frac)
    if rng is None:
        up = frac >= 0.5
    else:
        up = rng.random(x.shape, dtype=np.float32) < frac
    biased = np.minimum(np.where(small, k_min + _EXPONENT_BIAS, biased + up),
                        k_max + _EXPONENT_BIAS)
    out = (bits & np.uint32(0x80000000)) | (biased.astype(np.uint32) << np.uint32(23))
    return np.where(small & ~up, np.float32(0), out.view(np.float32))
