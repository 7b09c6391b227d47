"""Multiplier baseline: the same accelerator with a true ``*`` datapath on int8 weights.

For benchmarks only, so that the saving of the sign-select datapath is
measured rather than claimed. Every lane multiplies its input by an 8-bit
signed weight read from memory (the QNet's weights, stored as int8), and the
accumulators are sized for any int8 weight matrix of the layer's shape. It
computes the same function as the QNet, so it is checked like the real one.
"""

import numpy as np

from hdl.accelerator import Accelerator
from hdl.multiply_tree import MultiplyAdderTree
from hdl.mvu import value_shape

__all__ = ["MultiplyAdderTree", "multiply_tree", "BaselineAccelerator", "reference"]


def reference(x, weights):
    """NumPy behaviour: ``sum(x * w)`` over the last axis."""
    return (np.asarray(x, dtype=np.int64) * np.asarray(weights, dtype=np.int64)).sum(axis=-1)


def multiply_tree(plan):
    """Tree factory for :class:`~hdl.mvu.MVU` in the baseline."""
    return MultiplyAdderTree(plan.simd, value_shape(plan.leaf_shape), plan.acc_width + 1)


def BaselineAccelerator(qnet, folding=None, in_lanes=1, **options):  # noqa: N802
    """The multiplier baseline of ``qnet``: an :class:`Accelerator` with ``datapath="multiply"``."""
    return Accelerator(qnet, folding=folding, in_lanes=in_lanes, datapath="multiply", **options)
