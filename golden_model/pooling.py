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
        self._picks = None

    def __repr__(self):
        return f"MaxPool2D({self.in_shape}, {self.size})"

    def parameters(self):
        return []

    def forward(self, x, mode):
        k = self.size
        h_out, w_out, c = self.out_shape
        n = len(x)
        x = x.reshape((n,) + self.in_shape)[:, :h_out * k, :w_out * k]
        # Two stages, rows first: the k rows of a window are runs of w_out*k*c contiguous
        # values, so that stage runs at memory speed on the whole map; only the column
        # stage, on a k-times smaller array, works in runs of c values.
        rows = x.reshape(n * h_out, k, w_out * k * c)
        best_row, row_pick = _first_max([rows[:, i] for i in range(k)])
        columns = best_row.reshape(n * h_out, w_out, k, c)
        candidates = [columns[:, :, j] for j in range(k)]
        row_of = row_pick.reshape(columns.shape)
        # A tie between columns goes to the earlier window position in row-major
        # order (row first), the same choice as the argmax of the QNet's classes.
        order = [row_of[:, :, j] * k + j for j in range(k)]
        best, col_pick = _first_max(candidates, order)
        if mode.train:
            self._picks = (row_pick, col_pick)
        return best.reshape((n,) + self.out_shape)

    def backward(self, grad):
        k = self.size
        h_out, w_out, c = self.out_shape
        n = len(grad)
        row_pick, col_pick = self._picks
        grad = grad.reshape(n * h_out, w_out, c)
        columns = np.zeros((n * h_out, w_out, k, c), grad.dtype)
        for j in range(k):
            columns[:, :, j] = grad * (col_pick == j)
        columns = columns.reshape(n * h_out, w_out * k * c)
        crop = np.empty((n * h_out, k, w_out * k * c), grad.dtype)
        for i in range(k):
            crop[:, i] = columns * (row_pick == i)
        crop = crop.reshape(n, h_out * k, w_out * k, c)
        if crop.shape[1:] == self.in_shape:
            return crop
        dx = np.zeros((n,) + self.in_shape, grad.dtype)  # the dropped remainder gets 0
        dx[:, :h_out * k, :w_out * k] = crop
        return dx


def _first_max(candidates, order=None):
    """Element-wise maximum of equal-shaped arrays and the index of the first that holds it.

    With ``order`` (one integer array per candidate) a tie goes to the candidate of
    smaller order instead of the earlier one.
    """
    # maximum and arithmetic on masks, not np.where: several times faster in NumPy.
    best = candidates[0]
    pick = np.zeros(best.shape, np.int8)
    best_order = None if order is None else order[0]
    for index, value in enumerate(candidates[1:], start=1):
        wins = value > best
        if order is not None:
            wins |= (value == best) & (order[index] < best_order)
            best_order = best_order + wins * (order[index] - best_order)
        best = np.maximum(best, value)
        pick += wins * (np.int8(index) - pick)
    return best, pick


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
