"""Activation sparsity: how many activations are exactly zero."""

import numpy as np

from .layer import EVAL


def activation_sparsity(network, x, batch_size=1000):
    """Fraction of exact zeros in each hidden layer's output, in evaluation mode.

    A hidden layer's output is the output of its activation quantizer when it
    has one, else of its activation. Zeros are the inputs the next layer's
    sign-select adders can skip.

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
    blocks = network.blocks()[:-1]
    outputs = [b.act_quant if b.act_quant is not None else b.activation for b in blocks]
    zeros = np.zeros(len(outputs))
    counts = np.zeros(len(outputs))
    for i in range(0, len(x), batch_size):
        h = np.asarray(x[i:i + batch_size], np.float32)
        k = 0
        for layer in network.layers:
            h = layer.forward(h, EVAL)
            if k < len(outputs) and layer is outputs[k]:
                zeros[k] += np.count_nonzero(h == 0)
                counts[k] += h.size
                k += 1
    return [float(z / c) if c else float("nan") for z, c in zip(zeros, counts, strict=True)]
