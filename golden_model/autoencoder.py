"""Zero-bias autoencoder pre-training (Konda, Memisevic & Krueger 2015).

The encoder is ``h = act(x @ W.T)`` with no bias and a TRec or TLin
activation; the decoder is the tied linear map ``r = h @ W``. Training
minimises the mean squared reconstruction error; the learnt ``W`` can then
initialise a :class:`~golden_model.dense.Dense` layer of the same shape.
"""

from dataclasses import dataclass, field

import numpy as np

from .activations import Activation
from .errors import MulfreeError
from .layer import EVAL, Parameter, RunMode
from .optimizers import Adam


@dataclass
class AutoencoderResult:
    """Outcome of :func:`pretrain_autoencoder`.

    Members
    -------
    W : numpy.ndarray, (n_hidden, n_in)
        Encoder weights (the decoder is ``W`` itself).
    errors : list of float
        Mean squared reconstruction error per element, before training
        (entry 0) and after each epoch.
    """

    W: np.ndarray
    errors: list = field(default_factory=list)

    @property
    def reconstruction_error(self):
        return self.errors[-1]


def reconstruct(x, W, activation):
    """``(h, r)``: hidden code and tied linear reconstruction of ``x``."""
    h = activation.forward(x @ W.T, EVAL)
    return h, h @ W


def pretrain_autoencoder(x, n_hidden, kind="trec", theta=1.0, *, epochs=10, batch_size=64,
                         lr=1e-3, seed=0):
    """Train a zero-bias autoencoder on float inputs ``x``.

    The rows of ``W`` start as copies of randomly chosen inputs, scaled to
    the power-of-two length (1/16 .. 4) that reconstructs best.
    ``errors[0]`` is the error of that starting point, for comparison the
    error of the all-zero reconstruction is ``mean(x**2)``.

    Parameters
    ----------
    x : numpy.ndarray, (n, n_in)
        Float inputs (e.g. preprocessed pixels).
    n_hidden : int
    kind : {"trec", "tlin"}
    theta : float
    epochs, batch_size : int
    lr : float
        Adam learning rate.
    seed : int

    Returns
    -------
    AutoencoderResult
    """
    if kind not in ("trec", "tlin"):
        raise MulfreeError(f"autoencoder activation {kind!r}: expected 'trec' or 'tlin'")
    x = np.asarray(x, np.float32)
    rng = np.random.default_rng(seed)
    # Rows start as unit-length copies of random inputs: each unit then starts
    # above its threshold on some data (a unit that is always off gets no
    # gradient), and tied unit-length rows reconstruct on the right scale.
    w = x[rng.integers(0, len(x), n_hidden)] + 0.01 * rng.standard_normal(
        (n_hidden, x.shape[1])).astype(np.float32)
    w /= np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
    # Overlapping units over-reconstruct; start from the best power-of-two gain.
    activation = Activation(kind, theta)
    gains = 2.0 ** np.arange(-4, 3)
    errors = [np.mean((reconstruct(x, (g * w).astype(np.float32), activation)[1] - x) ** 2)
              for g in gains]
    w = (gains[int(np.argmin(errors))] * w).astype(np.float32)
    weights = Parameter("W", w)
    optimizer = Adam([weights])
    train_mode = RunMode(train=True, rng=rng)

    def error():
        return float(np.mean((reconstruct(x, weights.value, activation)[1] - x) ** 2))

    errors = [error()]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            xb = x[order[i:i + batch_size]]
            W = weights.value
            h = activation.forward(xb @ W.T, train_mode)
            d_r = (2.0 / xb.size) * (h @ W - xb)
            d_z = activation.backward(d_r @ W.T)
            weights.grad[...] = h.T @ d_r + d_z.T @ xb  # decoder + encoder (tied)
            optimizer.step(lr)
        errors.append(error())
    return AutoencoderResult(weights.value, errors)


def init_dense_from_autoencoder(dense, W):
    """Copy autoencoder weights into a Dense layer's shadow weights.

    ``W`` is rescaled to the root-mean-square of the layer's default
    initialisation (``sqrt(2/3) * W0`` for binary/ternary, whose shadow
    weights start uniform in ``±2 W0`` clipped to ``±W0``; the Glorot value
    for float layers) and then clipped, so that training starts from the
    same scale it would otherwise.
    """
    W = np.asarray(W, np.float32)
    if W.shape != dense.W.shape:
        raise MulfreeError(f"autoencoder weights of shape {W.shape}: expected {dense.W.shape}")
    if dense.weight_mode == "float":
        target = np.sqrt(6.0 / (dense.n_in + dense.n_out)) / np.sqrt(3.0)
    else:
        target = np.sqrt(2.0 / 3.0) * dense.w0
    rms = float(np.sqrt(np.mean(W * W)))
    dense.W[...] = W * np.float32(target / rms) if rms > 0 else W
    dense.clip_weights()


def pretrain_first_layer(network, x_raw, kind="trec", theta=1.0, **options):
    """Pre-train the first Dense layer of ``network`` on raw pixels ``x_raw``.

    The pixels go through the network's preprocessing first; ``options`` are
    passed to :func:`pretrain_autoencoder`.

    Returns
    -------
    AutoencoderResult
    """
    x = network.preprocess.forward(np.asarray(x_raw, np.float32), EVAL)
    dense = network.blocks()[0].dense
    result = pretrain_autoencoder(x, dense.n_out, kind, theta, **options)
    init_dense_from_autoencoder(dense, result.W)
    return result
