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

    def _windows(self, x):
        """``(N, Ho, Wo, C, k*k)`` view of the windows."""
        k = self.size
        h_out, w_out, c = self.out_shape
        x = x[:, :h_out * k, :w_out * k]
        x = x.reshape(len(x), h_out, k, w_out, k, c)
        return x.transpose(0, 1, 3, 5, 2, 4).reshape(len(x), h_out, w_out, c, k * k)

    def forward(self, x, mode):
        x = x.reshape((len(x),) + self.in_shape)
        windows = self._windows(x)
        if mode.train:
            self._argmax = windows.argmax(axis=-1)
        return windows.max(axis=-1)

    def backward(self, grad):
        k = self.size
        h_out, w_out, c = self.out_shape
        n = grad.shape[0]
        onehot = (np.arange(k * k) == self._argmax[..., None]) * grad[..., None]
        onehot = onehot.reshape(n, h_out, w_out, c, k, k).transpose(0, 1, 4, 2, 5, 3)
        dx = np.zeros((n,) + self.in_shape, grad.dtype)
        dx[:, :h_out * k, :w_out * k] = onehot.reshape(n, h_out * k, w_out * k, c)
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
