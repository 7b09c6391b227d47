"""Inverted dropout: identity at evaluation."""

import numpy as np


class Dropout:
    """Zero each unit with probability ``p`` in training; scale survivors by ``1 / (1 - p)``.

    Parameters
    ----------
    p : float
        Drop probability in ``[0, 1)``.
    """

    def __init__(self, p=0.5):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p={p}: expected 0 <= p < 1")
        self.p = float(p)
        self._mask = None

    def __repr__(self):
        return f"Dropout({self.p:g})"

    def parameters(self):
        return []

    def forward(self, x, mode):
        if not mode.train or self.p == 0.0:
            self._mask = None
            return x
        keep = mode.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = keep * np.float32(1.0 / (1.0 - self.p))
        return x * self._mask

    def backward(self, grad):
        return grad if self._mask is None else grad * self._mask
