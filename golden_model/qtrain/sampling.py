"""Weight sampling from the shadow weights and power-of-two rounding of layer inputs.

Both take their random bits as integer fields of the contract's words
(:mod:`golden_model.qtrain.random_bits`), so the golden model and the hardware
draw the same samples. See ``docs/qtrain.md``, "Sampling the weights" and
"Update".
"""

import numpy as np

from golden_model.qnet import pow2_encode


def sample_weights(shadow, w0_log2, weight_mode, stochastic, word=None):
    """Weights in {-1, 0, +1} (ternary) or {-1, +1} (binary) from shadow weights.

    Parameters
    ----------
    shadow : ndarray of int, in ``[-W0, W0]``
    w0_log2 : int
        ``W0 = 2**w0_log2``.
    weight_mode : {"ternary", "binary"}
    stochastic : bool
        Deterministic thresholds (``|S| > W0/2``; ``S >= 0``) if False.
    word : ndarray of int, same shape as ``shadow``
        The words ``R(j, i)``; only their low ``w0_log2`` (ternary) or
        ``w0_log2 + 1`` (binary) bits are used. Needed only if stochastic.

    Returns
    -------
    ndarray of int64
    """
    shadow = np.asarray(shadow, dtype=np.int64)
    w0 = 1 << w0_log2
    if weight_mode == "binary":
        if stochastic:
            plus = (np.asarray(word, dtype=np.int64) & (2 * w0 - 1)) < shadow + w0
        else:
            plus = shadow >= 0
        return np.where(plus, 1, -1).astype(np.int64)
    if stochastic:
        keep = (np.asarray(word, dtype=np.int64) & (w0 - 1)) < np.abs(shadow)
    else:
        keep = np.abs(shadow) > w0 // 2
    return np.where(keep, np.sign(shadow), 0).astype(np.int64)


def leading_one(magnitude):
    """Position of the leading one of ``magnitude >= 1`` (0 where ``magnitude == 0``)."""
    magnitude = np.asarray(magnitude, dtype=np.int64)
    # Exact below 2**53; layer inputs are below 2**32 (docs/qtrain.md).
    lead = np.frexp(magnitude.astype(np.float64))[1].astype(np.int64) - 1
    return np.maximum(lead, 0)


def round_input(a, stochastic, e_max, word=None):
    """Round layer inputs to ``sign * 2**e`` for the update.

    Parameters
    ----------
    a : ndarray of int
        Layer inputs, ``|a| < 2**32``.
    stochastic : bool
        Deterministic: the QNet power-of-two code (ties up) with ``e_max``.
        Stochastic: ``2**(p+1)`` with probability ``(|a| - 2**p) / 2**p``,
        else ``2**p`` (``p`` the leading one), using the low ``p`` bits of
        ``word``: unbiased.
    e_max : int
        Largest exponent of the deterministic code; chosen so nothing clamps.
    word : ndarray of int, same shape as ``a``
        The words ``R(n_out, i)`` (stochastic only).

    Returns
    -------
    sign : ndarray of int64
        -1, 0 or +1.
    exponent : ndarray of int64
        0 where ``a == 0``.
    """
    a = np.asarray(a, dtype=np.int64)
    if not stochastic:
        return pow2_encode(a, e_max)
    magnitude = np.abs(a)
    lead = leading_one(magnitude)
    below = (np.int64(1) << lead) - 1
    up = (np.asarray(word, dtype=np.int64) & below) < (magnitude & below)
    sign = np.sign(a)
    return sign, np.where(sign == 0, 0, lead + up)


def shift_round(value, shift, word):
    """``(value + (word & (2**shift - 1))) >> shift``: stochastic rounding, unbiased.

    ``E[result] = value / 2**shift`` when the low ``shift`` bits of ``word``
    are uniform (``docs/qtrain.md``, "Update").
    """
    shift = np.asarray(shift, dtype=np.int64)
    noise = np.asarray(word, dtype=np.int64) & ((np.int64(1) << shift) - 1)
    return (np.asarray(value, dtype=np.int64) + noise) >> shift
