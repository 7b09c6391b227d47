"""Fully connected layer with float, binary or ternary weights."""

import numpy as np

from .errors import MulfreeError
from .layer import Parameter
from .weight_quant import binarize, pow2_round, quantized_values, ternarize

WEIGHT_MODES = ("float", "binary", "ternary")


class Dense:
    """``y = x @ (W_int * alpha).T + b`` with quantized weights.

    Shadow weights ``W`` (float32, shape ``(n_out, n_in)`` like the QNet's
    ``W[j, i]``) are initialised uniform in ``±sqrt(6 / (n_in + n_out))``. In
    binary/ternary mode they are clipped to ``[-W0, W0]`` after every update,
    with ``W0 = sqrt(1.5 / (n_in + n_out))``, and learn at the base rate.
    (The BinaryConnect reference multiplies its rate by ``1 / W0`` because it
    clips to ``[-1, 1]``: an Adam step is about the rate whatever the
    gradient's scale, so either way one step is ``lr / W0`` of the clip
    half-range. Clipping to ``[-W0, W0]`` and scaling as well made one step
    ``lr / W0**2``: the whole range in a 784-input layer at lr 0.003.)
    The forward pass uses
    ``W_int * alpha``, where ``W_int`` is sampled (training, stochastic) or
    deterministic (training, deterministic; and always at evaluation), and the
    gradient computed w.r.t. these weights is applied to the shadow weights
    (straight-through).

    Parameters
    ----------
    n_in, n_out : int
        Layer sizes.
    weight_mode : {"float", "binary", "ternary"}
    stochastic : bool
        Sample the quantized weights during training.
    bias : bool
        Give the layer a bias ``b`` (False for zero-bias layers, and when a
        batch norm follows).
    quantized_backprop : bool
        Round the layer input to a power of two in the weight-gradient
        product (quantized back-propagation); the error is not quantized.
    qb_stochastic : bool
        Stochastic (unbiased) power-of-two rounding, else to nearest.
    qb_range : (int, int)
        Exponent range ``(k_min, k_max)`` of that rounding.
    alpha_pow2 : bool
        Use ``alpha = W0`` rounded to the nearest power of two, so that a
        layer with no batch norm after it still has a power-of-two scale.
    rng : numpy.random.Generator
        Draws the initial weights.

    Members
    -------
    W : numpy.ndarray, (n_out, n_in)
        Shadow weights.
    b : numpy.ndarray, (n_out,), or None
    alpha : float
        Scale of the quantized weights: ``W0`` (or its nearest power of two
        with ``alpha_pow2``) in binary/ternary mode, 1.0 in float mode.
    w0 : float
    weight_mode, stochastic, quantized_backprop : as given
    """

    def __init__(self, n_in, n_out, weight_mode="ternary", *, stochastic=True, bias=True,
                 quantized_backprop=False, qb_stochastic=True, qb_range=(-4, 3),
                 alpha_pow2=False, rng=None):
        if weight_mode not in WEIGHT_MODES:
            raise MulfreeError(f"weight mode {weight_mode!r}: expected one of {WEIGHT_MODES}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.weight_mode = weight_mode
        self.stochastic = bool(stochastic)
        self.quantized_backprop = bool(quantized_backprop)
        self.qb_stochastic = bool(qb_stochastic)
        self.qb_range = (int(qb_range[0]), int(qb_range[1]))
        self.alpha_pow2 = bool(alpha_pow2)
        self.w0 = float(np.sqrt(1.5 / (self.n_in + self.n_out)))
        limit = np.sqrt(6.0 / (self.n_in + self.n_out))
        w = rng.uniform(-limit, limit, (self.n_out, self.n_in)).astype(np.float32)
        quantized = weight_mode != "float"
        if quantized:
            self.alpha = 2.0 ** np.round(np.log2(self.w0)) if alpha_pow2 else self.w0
        else:
            self.alpha = 1.0
        self._W = Parameter("W", w)
        self._b = Parameter("b", np.zeros(self.n_out, np.float32)) if bias else None
        self.clip_weights()
        self._x = None
        self._w_used = None

    def __repr__(self):
        return (f"Dense({self.n_in}, {self.n_out}, {self.weight_mode!r}, "
                f"stochastic={self.stochastic}, bias={self._b is not None}, "
                f"quantized_backprop={self.quantized_backprop})")

    @property
    def W(self):
        return self._W.value

    @property
    def b(self):
        return None if self._b is None else self._b.value

    def parameters(self):
        return [self._W] if self._b is None else [self._W, self._b]

    def clip_weights(self):
        """Clip the shadow weights to ``[-W0, W0]`` (binary/ternary only)."""
        if self.weight_mode != "float":
            np.clip(self._W.value, -self.w0, self.w0, out=self._W.value)

    def quantized_weights(self, rng=None):
        """The integer weights ``W_int``, int8 ``(n_out, n_in)``.

        Deterministic unless ``rng`` is given (then one stochastic sample).
        """
        if self.weight_mode == "binary":
            return binarize(self.W, self.w0, rng)
        if self.weight_mode == "ternary":
            return ternarize(self.W, self.w0, rng)
        raise MulfreeError("a float Dense layer has no quantized weights")

    def effective_weights(self, mode):
        """The float weights the forward pass multiplies by in this mode."""
        if self.weight_mode == "float" or mode.shadow:
            return self.W
        rng = mode.rng if (mode.train and self.stochastic) else None
        return quantized_values(self.W, self.w0, self.weight_mode, self.alpha, rng)

    def forward(self, x, mode):
        w = self.effective_weights(mode)
        y = x @ w.T
        if self._b is not None:
            y += self._b.value
        if mode.train:
            if self.quantized_backprop:
                qb_rng = mode.rng if self.qb_stochastic else None
                x = pow2_round(x, qb_rng, *self.qb_range)
            self._x, self._w_used = x, w
        return y

    def backward(self, grad):
        self._W.grad[...] = grad.T @ self._x
        if self._b is not None:
            self._b.grad[...] = grad.sum(axis=0)
        return grad @ self._w_used
