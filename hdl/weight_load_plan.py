"""The weight-load address space of an accelerator with loadable weights.

Weights stored in ``ram`` or ``spram`` (see :data:`hdl.layer_plan.WEIGHT_STORES`)
are not in the bitstream: they are written, one 16-bit slice per cycle,
through the accelerator's ``wload`` port before the first image. A slice's
address is three bit fields, so the hardware decodes it without arithmetic::

    address = layer << (slice_width + word_width) | slice << word_width | word

``word`` is the weight word (``nf * ceil(N/SIMD) + f``, as in
:mod:`hdl.layer_plan`), ``slice`` its 16-bit slice ``j`` (bits
``[16 j, 16 j + 16)``, the top slice zero-padded) and ``layer`` the layer
index. Addresses of a ROM layer, and words or slices past a layer's end,
write nothing.

Members
-------
LoadMap
    The address fields and the slice values of a planned accelerator.

This is planning (no Amaranth); the port's payload layout is
:func:`hdl.weight_load.wload_layout`.
"""

from dataclasses import dataclass

import numpy as np

from hdl.layer_plan import SLICE_BITS

__all__ = ["LoadMap", "LoadRegion", "slice_values"]


def _bits(count):
    """Address bits for ``count`` items (at least 1)."""
    return max(1, (int(count) - 1).bit_length())


def slice_values(plan):
    """The weight memory of ``plan`` as a ``(slices, depth)`` array of uint16."""
    depth, slices = plan.weight_depth, plan.weight_slices
    out = np.zeros((slices, depth), dtype=np.uint16)
    mask = (1 << SLICE_BITS) - 1
    for word, value in enumerate(plan.weight_words):
        for j in range(slices):
            out[j, word] = (value >> (SLICE_BITS * j)) & mask
    return out


@dataclass(frozen=True)
class LoadRegion:
    """The slices of one (layer, slice) pair: consecutive addresses from ``start``."""

    layer: int
    slice: int
    start: int
    values: np.ndarray


class LoadMap:
    """Where every loadable weight slice of a planned accelerator is written.

    Parameters
    ----------
    plans : list of LayerPlan
        The accelerator's plans (ROM layers take no addresses).
    """

    def __init__(self, plans):
        # By QNet layer index: a convolutional QNet's pools and flatten have no plan.
        self._plans = {plan.index: plan for plan in plans}
        loadable = [plan for plan in self._plans.values() if plan.loadable]
        self.layers = [plan.index for plan in loadable]
        self.layer_width = _bits(max(self._plans, default=0) + 1)
        self.slice_width = _bits(max((p.weight_slices for p in loadable), default=1))
        self.word_width = _bits(max((p.weight_depth for p in loadable), default=1))

    @property
    def loadable(self):
        """Whether any layer's weights must be loaded."""
        return bool(self.layers)

    @property
    def address_width(self):
        return self.layer_width + self.slice_width + self.word_width

    @property
    def total_slices(self):
        """Slices a complete load writes."""
        return sum(self._plans[k].weight_slices * self._plans[k].weight_depth
                   for k in self.layers)

    def address(self, layer, slice_, word):
        """The load address of ``word``'s slice ``slice_`` in ``layer``."""
        return ((int(layer) << (self.slice_width + self.word_width))
                | (int(slice_) << self.word_width) | int(word))

    def split(self, address):
        """``(layer, slice, word)`` of a load address."""
        word = address & ((1 << self.word_width) - 1)
        slice_ = (address >> self.word_width) & ((1 << self.slice_width) - 1)
        return address >> (self.slice_width + self.word_width), slice_, word

    def writes(self):
        """Every ``(address, slice value)`` of a complete load, in load order."""
        return [(region.start + word, int(value)) for region in self.regions()
                for word, value in enumerate(region.values)]

    def regions(self):
        """Every loadable (layer, slice) with its values, in load order."""
        out = []
        for k in self.layers:
            values = slice_values(self._plans[k])
            for j in range(values.shape[0]):
                out.append(LoadRegion(k, j, self.address(k, j, 0), values[j]))
        return out
