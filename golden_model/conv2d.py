"""2-D convolution (channels-last) with float, binary or ternary weights.

The convolution is a :class:`~golden_model.dense.Dense` layer applied to every
``k x k x C_in`` patch of the input (im2col): the patches of a whole batch are
gathered with ``sliding_window_view`` into one matrix, and one BLAS product
computes every output position of every image. So the shadow-weight rules,
stochastic sampling and straight-through gradient are exactly the Dense
layer's, applied to the patch matrix. Quantized back-propagation rounds the
layer input (and the padding value) once, before the patches are gathered:
each pixel appears in up to ``k*k`` patches, and rounding the patch matrix
instead would cost ``k*k`` times the work (and draw independent roundings for
the copies of one pixel).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .dense import Dense
from .errors import MulfreeError
from .weight_quant import pow2_round

PADDINGS = ("same", "valid")


def conv_geometry(in_size, kernel, stride, padding):
    """Output size and ``(before, after)`` padding of one spatial axis.

    ``valid``: no padding, ``out = (in - k) // stride + 1``. ``same``:
    ``out = ceil(in / stride)``, padded by ``(out - 1) * stride + k - in``
    positions in all, the odd one after (TensorFlow's convention).

    Raises
    ------
    MulfreeError
        If the kernel does not fit a ``valid`` input.
    """
    if padding == "valid":
        if in_size < kernel:
            raise MulfreeError(f"a {kernel}x{kernel} kernel does not fit an input of size "
                               f"{in_size} without padding; expected a size >= {kernel}")
        return (in_size - kernel) // stride + 1, (0, 0)
    out = -(-in_size // stride)
    total = max((out - 1) * stride + kernel - in_size, 0)
    return out, (total // 2, total - total // 2)


def im2col(x, kernel, stride, pads, pad_value):
    """Patches of ``x`` as rows, in channels-last ``(kh, kw, c)`` order.

    Parameters
    ----------
    x : ndarray, (N, H, W, C)
    kernel, stride : int
    pads : ((int, int), (int, int))
        Rows and columns added before and after.
    pad_value : ndarray, (C,)
        The value of a padded position, per channel.

    Returns
    -------
    ndarray, (N * H_out * W_out, kernel * kernel * C)
    """
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    if top or bottom or left or right:
        padded = np.empty((n, h + top + bottom, w + left + right, c), x.dtype)
        padded[...] = pad_value.astype(x.dtype)
        padded[:, top:top + h, left:left + w] = x
    else:
        padded = x
    windows = sliding_window_view(padded, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride]
    h_out, w_out = windows.shape[1:3]
    # (N, Ho, Wo, C, kh, kw) -> (N, Ho, Wo, kh, kw, C): the QNet's weight order.
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h_out * w_out, kernel * kernel * c)


def col2im(cols, shape, kernel, stride, pads):
    """Adjoint of :func:`im2col`: sum patch gradients back onto the input (padding dropped)."""
    (top, bottom), (left, right) = pads
    n, h, w, c = shape
    h_out = (h + top + bottom - kernel) // stride + 1
    w_out = (w + left + right - kernel) // stride + 1
    patches = cols.reshape(n, h_out, w_out, kernel, kernel, c)
    padded = np.zeros((n, h + top + bottom, w + left + right, c), cols.dtype)
    # A loop over the k*k kernel offsets only; each step is one strided add.
    for i in range(kernel):
        for j in range(kernel):
            padded[:, i:i + stride * h_out:stride, j:j + stride * w_out:stride] += \
                patches[:, :, :, i, j]
    return padded[:, top:top + h, left:left + w]


class Conv2D:
    """``k x k`` convolution, stride 1 or 2, ``same`` or ``valid`` padding, channels-last.

    Parameters
    ----------
    in_shape : (int, int, int)
        ``(H, W, C_in)`` of one input image; a flat ``(N, H*W*C_in)`` input is
        reshaped to it.
    n_filters : int
        ``C_out``.
    kernel : int
        ``k``.
    stride : {1, 2}
    padding : {"same", "valid"}
    pad_value : float or array_like (C_in,)
        Value of a padded position, per input channel (the first layer pads
        with a raw pixel value mapped through the preprocessing; later layers
        with 0).
    weight_mode, stochastic, bias, alpha_pow2, rng
        As for :class:`~golden_model.dense.Dense`, which holds the weights.
    quantized_backprop, qb_stochastic, qb_range
        As for Dense, but the input is rounded before the patches are gathered.

    Members
    -------
    dense : Dense
        The weights as a ``(C_out, k*k*C_in)`` matrix, rows in ``(kh, kw, c)`` order.
    in_shape, out_shape : tuple of int
    kernel, stride, padding, pads, pad_value, quantized_backprop, qb_stochastic, qb_range
        As given (``pads`` per axis).
    pad_raw : numpy.ndarray, (C_in,)
        The raw pixel value the first layer pads with, per channel (set by
        the network builder; recorded in the QNet); zeros for later layers.
    """

    def __init__(self, in_shape, n_filters, kernel=3, weight_mode="ternary", *, stride=1,
                 padding="same", pad_value=0.0, stochastic=True, bias=True,
                 quantized_backprop=False, qb_stochastic=True, qb_range=(-4, 3),
                 alpha_pow2=False, rng=None):
        in_shape = tuple(int(d) for d in in_shape)
        if len(in_shape) != 3 or min(in_shape) < 1:
            raise MulfreeError(f"convolution input shape {in_shape}: expected (H, W, C) > 0")
        if padding not in PADDINGS:
            raise MulfreeError(f"padding {padding!r}: expected one of {PADDINGS}")
        if int(stride) not in (1, 2):
            raise MulfreeError(f"stride {stride}: expected 1 or 2")
        if int(kernel) < 1:
            raise MulfreeError(f"kernel {kernel}: expected a size >= 1")
        self.in_shape, self.kernel, self.stride = in_shape, int(kernel), int(stride)
        self.padding = padding
        h, w, c = in_shape
        h_out, pad_h = conv_geometry(h, self.kernel, self.stride, padding)
        w_out, pad_w = conv_geometry(w, self.kernel, self.stride, padding)
        self.pads = (pad_h, pad_w)
        self.out_shape = (h_out, w_out, int(n_filters))
        self.pad_value = np.broadcast_to(np.asarray(pad_value, np.float32), (c,)).copy()
        self.pad_raw = np.zeros(c, np.int64)
        self.quantized_backprop = bool(quantized_backprop)
        self.qb_stochastic = bool(qb_stochastic)
        self.qb_range = (int(qb_range[0]), int(qb_range[1]))
        self.dense = Dense(self.kernel * self.kernel * c, n_filters, weight_mode,
                           stochastic=stochastic, bias=bias, alpha_pow2=alpha_pow2, rng=rng)
        self._x_shape = None
        self._rounded_cols = None

    def __repr__(self):
        return (f"Conv2D({self.in_shape}, {self.n_out}, {self.kernel}, {self.weight_mode!r}, "
                f"stride={self.stride}, padding={self.padding!r}, "
                f"stochastic={self.dense.stochastic}, bias={self.b is not None}, "
                f"quantized_backprop={self.quantized_backprop})")

    # The weight interface of Dense, so the quantizer and the optimizer see one kind.
    n_in = property(lambda self: self.dense.n_in)
    n_out = property(lambda self: self.dense.n_out)
    W = property(lambda self: self.dense.W)
    b = property(lambda self: self.dense.b)
    w0 = property(lambda self: self.dense.w0)
    alpha = property(lambda self: self.dense.alpha)
    weight_mode = property(lambda self: self.dense.weight_mode)
    stochastic = property(lambda self: self.dense.stochastic)

    def parameters(self):
        return self.dense.parameters()

    def clip_weights(self):
        self.dense.clip_weights()

    def quantized_weights(self, rng=None):
        """The integer weights, int8 ``(C_out, k*k*C_in)`` (see :meth:`Dense.quantized_weights`)."""
        return self.dense.quantized_weights(rng)

    def forward(self, x, mode):
        self._x_shape = x.shape
        x = x.reshape((len(x),) + self.in_shape)
        cols = im2col(x, self.kernel, self.stride, self.pads, self.pad_value)
        y = self.dense.forward(cols, mode)
        self._rounded_cols = None
        if mode.train and self.quantized_backprop:
            rng = mode.rng if self.qb_stochastic else None
            rounded = pow2_round(x, rng, *self.qb_range)
            pad = pow2_round(self.pad_value, rng, *self.qb_range)
            self._rounded_cols = im2col(rounded, self.kernel, self.stride, self.pads, pad)
        return y.reshape((len(x),) + self.out_shape)

    def backward(self, grad):
        n = grad.shape[0]
        grad = grad.reshape(-1, self.n_out)
        dcols = self.dense.backward(grad)
        if self._rounded_cols is not None:
            # Quantized back-propagation: the weight gradient against the rounded input.
            self.dense.parameters()[0].grad[...] = grad.T @ self._rounded_cols
        dx = col2im(dcols, (n,) + self.in_shape, self.kernel, self.stride, self.pads)
        return dx.reshape(self._x_shape)
