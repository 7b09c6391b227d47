"""Losses on logits: softmax cross-entropy and squared hinge.

Each returns ``(loss, grad)`` with the loss averaged over the batch and the
gradient w.r.t. the logits.
"""

import numpy as np

from .errors import MulfreeError


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of integer ``labels``."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, labels]))
    grad = exp / total
    grad[rows, labels] -= 1
    return loss, (grad / len(labels)).astype(logits.dtype, copy=False)


def squared_hinge(logits, labels):
    """Mean over the batch of ``sum_c max(0, 1 - t_c * y_c)**2`` with ``t`` in ``{-1, +1}``."""
    targets = -np.ones_like(logits)
    targets[np.arange(len(labels)), labels] = 1
    margin = np.maximum(0, 1 - targets * logits)
    loss = float(np.sum(margin * margin) / len(labels))
    grad = -2 * targets * margin / len(labels)
    return loss, grad.astype(logits.dtype, copy=False)


LOSSES = {"xent": softmax_cross_entropy, "hinge": squared_hinge}


def get_loss(name):
    """The loss function called ``name`` (``"xent"`` or ``"hinge"``)."""
    if name not in LOSSES:
        raise MulfreeError(f"loss {name!r}: expected one of {sorted(LOSSES)}")
    return LOSSES[name]
