"""Max pooling (k x k, stride k) and flattening of channels-last feature maps."""

import numpy as np

from .errors import MulfreeError


class MaxPool2D:
    """Maximum over each ``k x k`` window, stride ``k``; a remainder row or column is dropped.

    Backward routes each window's gradient to its first maximum (row-major),
    the same choice as the argmax of the QNet's classes.

    Parameters
    ----------
    in_shape : (int, int, int)
        ``(H, W, C)``.
    size : int
        ``k``, at most ``min(H, W)``.

    Members
    -------
    in_shape, out_shape : tuple of int
    size : int
    """

    def __init__(self, in_shape, size=2):
        self.in_shape = tuple(int(d) for d in in_shape)
        self.size = int(size)
        h, w, c = self.in_shape
        if not 1 <= self.size <= min(h, w):
            raise MulfreeError(f"max pool {size}x{size} on a {h}x{w} map: expected a size "
                               f"from 1 to {min(h, w)}")
        self.out_shape = (h // self.size, w // self.size, c)
        self._argmax = None

    def __repr__(self):
        return f"MaxPool2D({self.in_shape}, {self.size})"

    def parameters(self):
        return []

    def _offsets(self):
        return [(i, j) for i in range(self.size) for j in range(self.size)]

    def forward(self, x, mode):
        k = self.size
        h_out, w_out, _ = self.out_shape
        x = x.reshape((len(x),) + self.in_shape)[:, :h_out * k, :w_out * k]
        # A loop over the k*k window offsets, each a strided view of the whole batch;
        # a strictly greater value wins, so ties keep the first (row-major) position.
        best = x[:, 0::k, 0::k]
        first = np.zeros(best.shape, np.int8)
        for o, (i, j) in enumerate(self._offsets()[1:], start=1):
            value = x[:, i::k, j::k]
            greater = value > best
            best = np.where(greater, value, best)
            first[greater] = o
        if mode.train:
            self._argmax = first
        return best

    def backward(self, grad):
        k = self.size
        h_out, w_out, _ = self.out_shape
        dx = np.zeros((len(grad),) + self.in_shape, grad.dtype)
        for o, (i, j) in enumerate(self._offsets()):
            dx[:, i:h_out * k:k, j:w_out * k:k] = np.where(self._argmax == o, grad, 0)
        return dx


class Flatten:
    """Feature maps ``(N, H, W, C)`` to vectors ``(N, H*W*C)`` in channels-last order."""

    def __init__(self, in_shape):
        self.in_shape = tuple(int(d) for d in in_shape)
        self.out_shape = (int(np.prod(self.in_shape)),)

    def __repr__(self):
        return f"Flatten({self.in_shape})"

    def parameters(self):
        return []

    def forward(self, x, mode):
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return grad.reshape((len(grad),) + self.in_shape)
