"""ReLU, thresholded rectifier (TRec), thresholded linear (TLin), identity."""

import numpy as np

from .errors import MulfreeError

ACTIVATION_KINDS = ("relu", "trec", "tlin", "linear")


class Activation:
    """An element-wise activation, optionally on an activation grid.

    ``relu``: ``max(z, 0)``; ``trec``: ``z if z > theta else 0``; ``tlin``:
    ``z if |z| > theta else 0``; ``linear``: ``z``. The gradient is 1 where the
    unit passes its input and 0 where it is off.

    With ``step`` set (quantization-aware training), ``z`` is first rounded to
    the grid, ``floor(z / step + 0.5) * step`` (straight-through), and the
    threshold compares the rounded value: the QNet's order (requantize, then
    threshold). The :class:`~golden_model.act_quant.ActQuant` that follows
    then saturates and optionally power-of-two encodes; its own rounding is
    a no-op on grid values.

    Parameters
    ----------
    kind : {"relu", "trec", "tlin", "linear"}
    theta : float
        Threshold of ``trec``/``tlin`` (ignored otherwise); with ``step`` it
        must be a multiple of the step.
    step : float or None
        Grid step ``2**-frac_bits``, or None for float activations.

    Members
    -------
    kind, theta, step : as given
    """

    def __init__(self, kind="relu", theta=1.0, step=None):
        if kind not in ACTIVATION_KINDS:
            raise MulfreeError(f"activation {kind!r}: expected one of {ACTIVATION_KINDS}")
        self.kind = kind
        self.theta = float(theta)
        self.step = None if step is None else float(step)
        if self.step is not None and kind in ("trec", "tlin"):
            if self.theta / self.step != np.round(self.theta / self.step):
                raise MulfreeError(
                    f"activation threshold theta={self.theta:g}: expected a multiple "
                    f"of the activation step {self.step:g}")
        self._on = None

    def __repr__(self):
        return f"Activation({self.kind!r}, theta={self.theta:g}, step={self.step})"

    def parameters(self):
        return []

    def forward(self, z, mode):
        if self.step is not None:
            step = np.float32(self.step)
            z = np.floor(z / step + np.float32(0.5)) * step
        if self.kind == "relu":
            on = z > 0
        elif self.kind == "trec":
            on = z > self.theta
        elif self.kind == "tlin":
            on = np.abs(z) > self.theta
        else:
            on = None
        if mode.train:
            self._on = on
        # A product with the mask, not np.where: the same values, several times faster.
        return z if on is None else z * on

    def backward(self, grad):
        return grad if self._on is None else grad * self._on
