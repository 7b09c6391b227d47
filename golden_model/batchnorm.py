"""Batch normalisation, optionally with power-of-two (shift-based) scales."""

import numpy as np

from .layer import Parameter


def round_pow2(v):
    """Round to the nearest signed power of two in the log domain; 0 stays 0."""
    v = np.asarray(v, dtype=np.float64)
    mag = np.abs(v)
    with np.errstate(divide="ignore"):
        rounded = np.exp2(np.round(np.log2(np.where(mag > 0, mag, 1.0))))
    return np.where(mag > 0, np.sign(v) * rounded, 0.0)


class BatchNorm:
    """Per-feature ``y = gamma * (x - mu) / sqrt(var + eps) + beta``.

    On channels-last feature maps ``(N, H, W, C)`` the features are the
    channels, and every image position counts as a sample.

    Training uses the batch statistics (biased variance) and updates running
    averages, ``running = (1 - momentum) * running + momentum * batch``;
    evaluation uses the running averages. Backward is the full Jacobian
    through the batch mean and variance.

    With ``shift_based=True`` the forward scale is rounded so that the total
    scale from the preceding Dense layer's integer accumulator is a power of
    two: with ``k = gamma / sqrt(var + eps)`` and ``in_scale`` the preceding
    layer's ``alpha``, the layer multiplies ``x - mu`` by
    ``round_pow2(in_scale * k) / in_scale``. The pixel scale ``2**-B_in`` and
    the activation steps ``2**-f`` are powers of two already, so the QNet's
    ``(acc + b) >> s`` then reproduces this layer exactly up to the rounding
    of the bias. The rounding is straight-through in backward: the gradient
    is the one of ``round_pow2(v) -> v`` replaced by identity, i.e. the
    centring path sees the rounded scale and the variance path ``gamma``.

    With ``common_scale=True`` as well (the output layer), the scales are
    powers of two up to one positive factor ``g`` shared by all features, the
    geometric mean of ``|in_scale * k|``: ``g * round_pow2(in_scale * k / g)``.
    Only the ratios of the logits decide the class, so the QNet drops ``g``;
    and ``g`` follows ``gamma`` smoothly. With a power of two per feature, the
    margin the squared hinge asks for pushes every output ``gamma`` up while
    the rounded scale stays put, until a class's scale doubles at once: on
    Fashion-MNIST the training loss then rose for 4 epochs in a row (from
    0.524 to 0.618, BinaryConnect, epochs 18-22 of 30); with the common factor
    it falls every epoch.

    Parameters
    ----------
    n : int
        Number of features.
    shift_based : bool
    in_scale : float
        Scale of the preceding layer's integer weights (its ``alpha``).
    momentum : float
    eps : float
    max_scale : float, optional
        With ``shift_based``: the largest magnitude of the rounded scale
        ``round_pow2(in_scale * k)`` (a power of two). The network builder
        sets it to ``step_out / step_in`` so that the QNet's shift is never a
        left shift, whose bias could not fold the rounding exactly.
    common_scale : bool
        With ``shift_based``: powers of two up to a common factor (see above).

    Members
    -------
    gamma, beta : numpy.ndarray, (n,)
        Trainable scale and shift.
    running_mean, running_var : numpy.ndarray, (n,)
    eps, momentum, shift_based, in_scale, max_scale, common_scale : as given
    """

    def __init__(self, n, *, shift_based=False, in_scale=1.0, momentum=0.1, eps=1e-4,
                 max_scale=None, common_scale=False):
        self.n = int(n)
        self.common_scale = bool(common_scale)
        self.max_scale = None if max_scale is None else float(max_scale)
        self.shift_based = bool(shift_based)
        self.in_scale = float(in_scale)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self._gamma = Parameter("gamma", np.ones(self.n, np.float32))
        self._beta = Parameter("beta", np.zeros(self.n, np.float32))
        self.running_mean = np.zeros(self.n, np.float32)
        self.running_var = np.ones(self.n, np.float32)
        self._cache = None

    def __repr__(self):
        return (f"BatchNorm({self.n}, shift_based={self.shift_based}, "
                f"in_scale={self.in_scale:g}, momentum={self.momentum:g}, eps={self.eps:g}"
                + (", common_scale=True" if self.common_scale else "") + ")")

    @property
    def gamma(self):
        return self._gamma.value

    @property
    def beta(self):
        return self._beta.value

    def parameters(self):
        return [self._gamma, self._beta]

    def applied_scale(self, var):
        """The per-feature factor that multiplies ``x - mean`` for variance ``var``."""
        k = self.gamma / np.sqrt(var + self.eps)
        if self.shift_based:
            g = self.common_factor(var)
            rounded = round_pow2(self.in_scale * k / g)
            if self.max_scale is not None:
                rounded = np.clip(rounded, -self.max_scale, self.max_scale)
            k = g * rounded / self.in_scale
        return k.astype(np.float32)

    def common_factor(self, var):
        """The factor ``g`` shared by all scales for variance ``var`` (1.0 unless
        ``shift_based`` and ``common_scale``; also 1.0 when every ``gamma`` is 0)."""
        if not (self.shift_based and self.common_scale):
            return 1.0
        magnitude = np.abs(self.in_scale * self.gamma.astype(np.float64)
                           / np.sqrt(np.asarray(var, np.float64) + self.eps))
        live = magnitude[magnitude > 0]
        if not live.size:
            return 1.0
        # Nine significant bits: ``g * 2**p / in_scale`` is then exact in float32 when
        # ``in_scale`` is a power of two, so the QNet's exponents come out exact.
        mantissa, exponent = np.frexp(np.exp2(np.mean(np.log2(live))))
        return float(np.ldexp(np.round(mantissa * 512) / 512, exponent))

    def eval_scale(self):
        """The evaluation factor on ``x - running_mean`` (what the quantizer folds)."""
        return self.applied_scale(self.running_var)

    def forward(self, x, mode):
        rows, r = _wide_rows(x.reshape(-1, self.n))
        if not mode.train:
            scale = np.tile(self.eval_scale(), r)
            return ((rows - np.tile(self.running_mean, r)) * scale
                    + np.tile(self.beta, r)).reshape(x.shape)
        count = len(rows) * r
        mean = _column_sums(rows, r) / count
        centred = rows - np.tile(mean, r)
        var = _column_sums(centred * centred, r) / count
        m = self.momentum
        self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(np.float32)
        self.running_var = ((1 - m) * self.running_var + m * var).astype(np.float32)
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(np.float32)
        scale = self.applied_scale(var)
        x_hat = centred * np.tile(inv_std, r)
        self._cache = (x_hat, inv_std, scale, r)
        return (centred * np.tile(scale, r) + np.tile(self.beta, r)).reshape(x.shape)

    def backward(self, grad):
        x_hat, inv_std, scale, r = self._cache
        rows = grad.reshape(x_hat.shape)
        count = len(rows) * r
        grad_sum = _column_sums(rows, r)
        grad_x_hat = _column_sums(rows * x_hat, r)
        self._gamma.grad[...] = grad_x_hat
        self._beta.grad[...] = grad_sum
        # Centring path with the applied (possibly rounded) scale; variance path with gamma.
        dx = rows * np.tile(scale, r)
        dx -= np.tile(scale * grad_sum / count, r)
        dx -= x_hat * np.tile(self.gamma * inv_std * grad_x_hat / count, r)
        return dx.reshape(grad.shape)


# Per-feature arithmetic on an (M, n) array with few features runs NumPy's inner loop
# over only n elements per row, which on conv feature maps (M = N*H*W, n = C = 16)
# costs ten times the memory traffic. Viewing r consecutive rows as one row of r*n
# elements, with the per-feature vectors tiled r times, gives the same values.
_WIDE_ROW = 512


def _wide_rows(x):
    """``x`` (M, n) as ``(M / r, r * n)`` for the largest ``r <= 512 / n`` dividing M."""
    m, n = x.shape
    r = next(d for d in range(max(1, _WIDE_ROW // n), 0, -1) if m % d == 0)
    return x.reshape(m // r, r * n), r


def _column_sums(rows, r):
    """Per-feature sums of a wide view from :func:`_wide_rows`."""
    return rows.sum(axis=0).reshape(r, -1).sum(axis=0)
