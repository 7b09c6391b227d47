"""What every layer of the float model shares: its parameters and the run mode.

A layer is any object with ``forward(x, mode)``, ``backward(grad)`` and a
``parameters()`` list; the network calls them in order. There is no base class
to inherit from: the few layers are small enough to read on their own.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class RunMode:
    """How a forward pass runs.

    Members
    -------
    train : bool
        Training pass: batch statistics, stochastic weights, dropout on, and
        the layer keeps what its backward pass needs.
    rng : numpy.random.Generator or None
        Source of randomness for stochastic quantization and dropout; only
        read when ``train`` is true.
    shadow : bool
        Evaluate with the float shadow weights instead of the quantized ones
        (a diagnostic; hardware always runs the quantized weights).
    """

    train: bool = False
    rng: np.random.Generator | None = None
    shadow: bool = False


EVAL = RunMode()


class Parameter:
    """A trainable array with its gradient and learning-rate scale.

    Members
    -------
    name : str
        Key used when saving, e.g. ``"W"``.
    value : numpy.ndarray
        The array, updated in place by the optimizer.
    grad : numpy.ndarray
        Gradient of the loss, written by the layer's backward pass.
    lr_scale : float
        Multiplies the learning rate for this array (1.0 for every layer
        here; see :class:`~golden_model.dense.Dense` for why not ``1 / W0``).
    """

    def __init__(self, name, value, lr_scale=1.0):
        self.name = name
        self.value = value
        self.grad = np.zeros_like(value)
        self.lr_scale = float(lr_scale)

    def __repr__(self):
        return f"Parameter({self.name!r}, shape={self.value.shape}, lr_scale={self.lr_scale:g})"
