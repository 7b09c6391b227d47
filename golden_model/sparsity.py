"""Activation sparsity: how many activations are exactly zero."""

import numpy as np

from .quantize import float_blocks


def activation_sparsity(network, x, batch_size=1000):
    """Fraction of exact zeros in each hidden layer's output, in evaluation mode.

    A hidden layer's output is what its block hands to the next block (see
    :func:`~golden_model.quantize.float_blocks`). Zeros are the inputs the
    next layer's sign-select adders can skip.

    Parameters
    ----------
    network : Network
    x : numpy.ndarray
        Raw pixels, ``(n, n_inputs)``.

    Returns
    -------
    list of float
        One fraction per hidden layer, in order.
    """
    n_hidden = len(network.blocks()) - 1
    zeros = np.zeros(n_hidden)
    counts = np.zeros(n_hidden)
    for i in range(0, len(x), batch_size):
        for k, h in enumerate(float_blocks(network, x[i:i + batch_size])[:-1]):
            zeros[k] += np.count_nonzero(h == 0)
            counts[k] += h.size
    return [float(z / c) if c else float("nan") for z, c in zip(zeros, counts, strict=True)]
