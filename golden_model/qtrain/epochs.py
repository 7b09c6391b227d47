"""QTrain over a dataset: epochs of single-sample steps, evaluation, history.

The sample order is the host's part of a run: epoch ``e`` visits the training
set in ``numpy.random.default_rng([seed, e]).permutation``. Evaluation uses
the deterministic weights, i.e. the exported QNet.
"""

import time

import numpy as np

from golden_model.history import History

from .random_bits import layer_words
from .state import QTrainError
from .step import train_step

#: Steps whose random words are computed together (bounds the memory on large sets).
_WORD_CHUNK = 256


def epoch_order(seed, epoch, n):
    """The order in which epoch ``epoch`` visits ``n`` training samples."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def run_epoch(state, x, y, order=None, progress=None):
    """One epoch of single-sample steps, in place; then the epoch counter grows.

    Parameters
    ----------
    state : QTrainState
    x : ndarray of int, shape (n, n_inputs)
    y : ndarray of int, shape (n,)
    order : ndarray of int, optional
        Sample order (default :func:`epoch_order`).
    progress : callable, optional
        Called as ``progress(loss, correct)`` after every sample.

    Returns
    -------
    mean_loss : float
    accuracy : float
        Of the training forward (sampled weights) during the epoch.
    """
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    _check_data(state, x, y)
    if order is None:
        order = epoch_order(state.config.seed, state.epoch, len(y))
    total_loss, correct = 0, 0
    for position, index in enumerate(order):
        if position % _WORD_CHUNK == 0:
            # The words of many steps at once: they depend only on (seed, step, layer).
            steps = state.step + np.arange(min(_WORD_CHUNK, len(order) - position))
            words = [layer_words(state.config.seed, steps, k, layer.n_out, layer.n_in)
                     for k, layer in enumerate(state.layers)]
        step_words = [(rows[position % _WORD_CHUNK], columns[position % _WORD_CHUNK])
                      for rows, columns in words]
        result = train_step(state, x[index], y[index], step_words)
        total_loss += result["loss"]
        hit = result["predicted"] == y[index]
        correct += hit
        if progress is not None:
            progress(result["loss"], hit)
    state.epoch += 1
    n = max(1, len(order))
    return total_loss / n, correct / n


def _check_data(state, x, y):
    """Refuse samples outside the state's input width or classes (the widths assume them)."""
    n, bits, classes = state.input.n_inputs, state.input.bits, state.layers[-1].n_out
    if x.ndim != 2 or x.shape[1] != n or y.shape != x.shape[:1]:
        raise QTrainError(f"training data: expected x of shape (n, {n}) and y of shape (n,), "
                          f"got {x.shape} and {y.shape}")
    if x.size and (x.min() < 0 or x.max() >= 1 << bits):
        raise QTrainError(f"training data: expected pixels in [0, {(1 << bits) - 1}] "
                          f"({bits} bits), got [{x.min()}, {x.max()}]")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise QTrainError(f"training data: expected labels in [0, {classes - 1}], "
                          f"got [{y.min()}, {y.max()}]")


def accuracy(state, x, y):
    """Accuracy of the deterministic weights (the exported QNet) on ``(x, y)``."""
    if len(y) == 0:
        return float("nan")
    return float(np.mean(state.to_qnet(meta={}).predict(x) == np.asarray(y)))


def fit(state, dataset, epochs, progress_factory=None, on_epoch=None):
    """Train ``state`` in place for ``epochs`` epochs on ``dataset``; returns a :class:`History`.

    Parameters
    ----------
    progress_factory : callable, optional
        ``progress_factory(epoch, n_samples)`` returns a per-sample callback
        with a ``close()`` method (e.g. a tqdm bar), or None.
    on_epoch : callable, optional
        Called with the history after every epoch.
    """
    history = History()
    for _ in range(epochs):
        start = time.perf_counter()
        epoch = state.epoch
        progress = progress_factory(epoch, len(dataset.y_train)) if progress_factory else None
        loss, train_acc = run_epoch(state, dataset.x_train, dataset.y_train,
                                    progress=progress)
        if progress is not None:
            progress.close()
        history.append(epoch=epoch + 1, lr=2.0 ** -state.eta(0)[0], train_loss=loss,
                       train_acc=float(train_acc),
                       val_acc=accuracy(state, dataset.x_val, dataset.y_val),
                       val_acc_shadow=None, seconds=time.perf_counter() - start)
        if on_epoch is not None:
            on_epoch(history)
    history.best_epoch = len(history.epoch) - 1
    return history
