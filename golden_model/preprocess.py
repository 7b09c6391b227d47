"""The network's first operation: raw unsigned pixels to centred floats."""

import numpy as np


class Preprocess:
    """``x_float = (x_raw - mean) * 2**-input_bits``.

    The scale is a power of two and the mean a per-pixel constant, so the
    quantizer folds both into the first Dense layer (the mean into its bias)
    and the hardware sees raw pixels.

    Parameters
    ----------
    mean : array_like, shape (n_inputs,)
        Per-pixel mean of the raw training pixels.
    input_bits : int
        ``B_in``: raw pixels lie in ``[0, 2**input_bits)``.

    Members
    -------
    mean : numpy.ndarray of float32
    input_bits : int
    scale : float
        ``2.0 ** -input_bits``.
    """

    def __init__(self, mean, input_bits):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.input_bits = int(input_bits)
        self.scale = 2.0**-self.input_bits

    def __repr__(self):
        return f"Preprocess(mean=<{self.mean.size} values>, input_bits={self.input_bits})"

    @property
    def n_inputs(self):
        return self.mean.size

    def forward(self, x, mode):
        return (np.asarray(x, dtype=np.float32) - self.mean) * np.float32(self.scale)

    def backward(self, grad):
        return grad * np.float32(self.scale)

    def parameters(self):
        return []
