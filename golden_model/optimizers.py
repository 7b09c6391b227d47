"""SGD with momentum, Adam, and the exponential learning-rate schedule."""

import numpy as np

from .errors import MulfreeError


class SGD:
    """SGD with (heavy-ball) momentum: ``v = mu v - lr g; p += v``.

    Parameters
    ----------
    parameters : list of Parameter
    momentum : float
    """

    def __init__(self, parameters, momentum=0.9):
        self.parameters = list(parameters)
        self.momentum = float(momentum)
        self._velocity = [np.zeros_like(p.value) for p in self.parameters]

    def step(self, lr):
        for p, v in zip(self.parameters, self._velocity, strict=True):
            v *= self.momentum
            v -= np.float32(lr * p.lr_scale) * p.grad
            p.value += v


class Adam:
    """Adam (Kingma & Ba) with bias correction.

    Parameters
    ----------
    parameters : list of Parameter
    beta1, beta2, eps : float
    """

    def __init__(self, parameters, beta1=0.9, beta2=0.999, eps=1e-8):
        self.parameters = list(parameters)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self._m = [np.zeros_like(p.value) for p in self.parameters]
        self._v = [np.zeros_like(p.value) for p in self.parameters]
        self._t = 0

    def step(self, lr):
        self._t += 1
        b1, b2 = self.beta1, self.beta2
        correction = np.sqrt(1 - b2**self._t) / (1 - b1**self._t)
        for p, m, v in zip(self.parameters, self._m, self._v, strict=True):
            m *= b1
            m += (1 - b1) * p.grad
            v *= b2
            v += (1 - b2) * (p.grad * p.grad)
            p.value -= np.float32(lr * p.lr_scale * correction) * m / (np.sqrt(v) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name, parameters, **options):
    """Build the optimizer called ``name`` (``"sgd"`` or ``"adam"``)."""
    if name not in OPTIMIZERS:
        raise MulfreeError(f"optimizer {name!r}: expected one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](parameters, **options)


def exponential_decay(lr_start, lr_end, steps):
    """Learning rates of ``steps`` steps from ``lr_start`` down to ``lr_end`` geometrically.

    Training takes one step per update (so that runs of different epoch
    counts and set sizes decay alike per update), not one per epoch.

    Returns
    -------
    numpy.ndarray, (steps,)
        ``lr_start * (lr_end / lr_start) ** (s / (steps - 1))``.
    """
    if steps <= 1:
        return np.array([lr_start] * max(steps, 0), dtype=np.float64)
    return lr_start * (lr_end / lr_start) ** (np.arange(steps) / (steps - 1))


#: The default starting rate follows ``DEFAULT_LR * sqrt(DEFAULT_LR_UPDATES / updates)``
#: (0.003 for 25,000 updates, about 30 epochs of 54,000 images in batches of 64) ...
DEFAULT_LR, DEFAULT_LR_UPDATES = 0.003, 25000
#: ... but the starting rate times the number of updates never exceeds this (long runs).
LR_UPDATE_BUDGET = 25.0
#: The default starting rate never exceeds this (very short runs).
MAX_DEFAULT_LR = 0.03
#: The default rate decays by this factor over the run.
DEFAULT_LR_DECAY = 100.0


def default_learning_rates(updates):
    """The default ``(lr_start, lr_end)`` for a run of ``updates`` optimizer steps.

    The starting rate scales as ``1 / sqrt(updates)`` (the step size that suits
    a fixed horizon of stochastic gradient steps) up to about 2,800 updates,
    and as ``LR_UPDATE_BUDGET / updates`` beyond (0.001 for 25,000 updates),
    at most ``MAX_DEFAULT_LR``; it decays ``DEFAULT_LR_DECAY`` times. Adam
    moves a weight about ``lr`` per update whatever its gradient, and a
    binary/ternary shadow weight flips when that walk crosses a threshold: a
    short run needs large steps to learn at all, a long one a bounded total
    walk, or the weights keep flipping (on Fashion-MNIST's 54,000 images,
    30 epochs, deterministic BinaryConnect ended 2.1 points behind full
    precision at 0.003 and 0.9 at 0.001).

    Parameters
    ----------
    updates : int
        Optimizer steps in the whole run (batches per epoch times epochs).

    Returns
    -------
    (float, float)
    """
    updates = max(int(updates), 1)
    lr_start = min(DEFAULT_LR * np.sqrt(DEFAULT_LR_UPDATES / updates),
                   LR_UPDATE_BUDGET / updates, MAX_DEFAULT_LR)
    return float(lr_start), float(lr_start / DEFAULT_LR_DECAY)
