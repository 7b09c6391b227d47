"""Finite-difference gradients for the golden-model layer tests."""

import numpy as np


def numeric_grad(f, x, eps=1e-3):
    """Central-difference gradient of the scalar ``f()`` w.r.t. array ``x`` (changed in place)."""
    grad = np.zeros(x.shape, np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad
