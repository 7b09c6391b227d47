"""The contract's random bits: a multiplier-free function of (seed, step, layer, row, column).

``R(j, i) = u_j ^ v_i`` with a row word ``u_j`` and a column word ``v_i``, each
the ``mix`` of a per-(seed, step, layer) key and its index. ``mix`` is two
rounds of Thomas Wang's 32-bit integer hash (``hash32shift``, its one constant
multiplication written as shifts and adds) plus a constant: xors, constant
shifts and additions only, so a hardware lane needs one xor and any folding
regenerates the same bits in any order. See ``docs/qtrain.md``, "Random bits".
"""

import numpy as np

#: Constant added after each round of :func:`mix`.
MIX_CONSTANT = 0x9E3779B9
MIX_ROUNDS = 2

_MASK32 = 0xFFFFFFFF


def mix(x):
    """The 32-bit bijection ``mix``: two rounds of ``hash32shift`` then add a constant.

    One round, all mod 2**32: ``x = (x << 15) + ~x; x ^= x >> 12;
    x += x << 2; x ^= x >> 4; x += (x << 3) + (x << 11); x ^= x >> 16``. Each
    step is invertible, so ``mix`` permutes the 32-bit words. (Four rounds of
    xorshift32 plus constants, being nearly linear, left the low bits of
    ``mix(k ^ 1)`` and ``mix(k ^ 3)`` correlated; the additions of shifted
    copies of ``x`` here are what breaks the linearity.)

    Parameters
    ----------
    x : array_like of int
        Words; only the low 32 bits are used.

    Returns
    -------
    ndarray of uint32
    """
    x = (np.asarray(x, dtype=np.int64) & _MASK32).astype(np.uint32)
    with np.errstate(over="ignore"):  # the additions are mod 2**32 by design
        for _ in range(MIX_ROUNDS):
            x = (x << np.uint32(15)) + ~x
            x = x ^ (x >> np.uint32(12))
            x = x + (x << np.uint32(2))
            x = x ^ (x >> np.uint32(4))
            x = x + (x << np.uint32(3)) + (x << np.uint32(11))
            x = x ^ (x >> np.uint32(16))
            x = x + np.uint32(MIX_CONSTANT)
    return x


def layer_key(seed, step, layer):
    """``mix(mix(mix(seed) ^ step) ^ layer)``; ``step`` may be an array (mod 2**32)."""
    step = np.asarray(step, dtype=np.int64) & _MASK32
    inner = mix(seed).astype(np.int64)
    return mix(mix(inner ^ step).astype(np.int64) ^ int(layer))


def row_words(key, n_rows):
    """``u_j = mix(key ^ 2j)`` for ``j < n_rows``; shape ``key.shape + (n_rows,)``."""
    key = np.asarray(key, dtype=np.int64)[..., None]
    return mix(key ^ (2 * np.arange(n_rows, dtype=np.int64)))


def column_words(key, n_columns):
    """``v_i = mix(key ^ (2i + 1))`` for ``i < n_columns``; shape ``key.shape + (n_columns,)``."""
    key = np.asarray(key, dtype=np.int64)[..., None]
    return mix(key ^ (2 * np.arange(n_columns, dtype=np.int64) + 1))


def layer_words(seed, step, layer, n_out, n_in):
    """Row and column words of one layer at one step (or an array of steps).

    Returns
    -------
    rows : ndarray of uint32, shape ``step.shape + (n_out + 2,)``
        ``u_j`` for the weight rows and the two extra rows (input rounding,
        backward rounding).
    columns : ndarray of uint32, shape ``step.shape + (n_in + 1,)``
        ``v_i`` for the weight columns and the bias column.
    """
    key = layer_key(seed, step, layer)
    return row_words(key, n_out + 2), column_words(key, n_in + 1)


def words(rows, columns, row_index=None, column_index=None):
    """``R(j, i) = u_j ^ v_i`` for the given rows and columns (all by default), int64."""
    u = rows if row_index is None else rows[..., row_index]
    v = columns if column_index is None else columns[..., column_index]
    return (np.asarray(u)[..., :, None] ^ np.asarray(v)[..., None, :]).astype(np.int64)


def field(word, bits, offset=0):
    """``(word >> offset) & (2**bits - 1)``; ``bits`` may be an array."""
    word = np.asarray(word, dtype=np.int64)
    return (word >> offset) & ((np.int64(1) << np.asarray(bits, dtype=np.int64)) - 1)
