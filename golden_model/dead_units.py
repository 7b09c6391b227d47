"""Dead hidden layers: every unit outputs zero on every image.

A layer whose units are all off hands the next layer a constant, so the
network predicts one class whatever the input, and no gradient reaches the
layer to switch it back on. This happens when a threshold (TRec/TLin
``theta``) lies above every pre-activation, typically without batch norm.
"""

import sys

import numpy as np
from tqdm import tqdm

from .activations import Activation
from .conv2d import Conv2D
from .dense import Dense
from .errors import MulfreeError
from .layer import EVAL

#: images checked after each epoch: enough to see a live unit, cheap next to an epoch
CHECK_IMAGES = 512


class DeadNetworkError(MulfreeError):
    """A trained network has a hidden layer whose every unit outputs zero."""


def dead_layers(network, x):
    """The hidden layers whose every output is zero on all of ``x``.

    Parameters
    ----------
    network : Network
    x : numpy.ndarray
        Raw pixels, ``(n, n_inputs)``; evaluated in evaluation mode.

    Returns
    -------
    list of (int, float)
        ``(k, peak)`` per dead hidden layer, ``k`` counted from 0, ``peak``
        its largest pre-activation (largest magnitude for TLin), i.e. how far
        below the threshold the layer is.
    """
    dead, k, peak = [], -1, 0.0
    a = np.asarray(x, np.float32)
    if not len(a):
        return dead
    for layer in network.layers:
        if isinstance(layer, Dense | Conv2D) and k >= 0 and not np.any(a):
            dead.append((k, peak))
        if isinstance(layer, Activation):
            k += 1
            peak = float(np.max(np.abs(a) if layer.kind == "tlin" else a))
        a = layer.forward(a, EVAL)
    return dead


def describe_dead(network, dead, images="validation image"):
    """One message naming the first dead layer and what to change.

    The layers after a dead one see a constant; whether they are dead too
    says nothing more, so only the first is named.
    """
    config = network.config
    k, peak = dead[0]
    n_hidden = len(network.blocks()) - 1
    thresholded = config is not None and config.activation in ("trec", "tlin")
    against = (f" against a {config.activation} threshold of {config.theta:g}" if thresholded
               else "")
    text = (f"hidden layer {k + 1} of {n_hidden} outputs 0 for every {images} (largest "
            f"pre-activation {peak:.3g}{against}), so the network predicts one class")
    advice = []
    if thresholded:
        advice.append(f"a --theta below {peak:.3g} (a multiple of the activation step "
                      f"{2.0 ** -config.act_frac_bits:g})")
    if config is not None and not config.batchnorm:
        advice.append("batch norm (no --no-batchnorm)")
    if advice:
        text += "; try " + " or ".join(advice)
    return text


def warn_dead_layers(network, x, epoch):
    """After an epoch: print a warning to stderr if a hidden layer is dead.

    Checks the first :data:`CHECK_IMAGES` images of ``x`` (the validation
    set). Returns the :func:`dead_layers` result.
    """
    dead = dead_layers(network, x[:CHECK_IMAGES])
    if dead:
        tqdm.write(f"warning: epoch {epoch + 1}: {describe_dead(network, dead)}",
                   file=sys.stderr)
    return dead
