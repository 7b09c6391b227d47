"""Planning side of :mod:`hdl.max_pool`: geometry, reference and estimate (no Amaranth).

A ``size x size`` max-pool, stride ``size``, on a channels-last stream of
``lanes`` values per beat (``groups = C / lanes`` beats per pixel). The unit
keeps one line of partial maxima, a word per output column and group; a
remainder row or column (``H`` or ``W`` not a multiple of ``size``) is read
and dropped, as :class:`golden_model.qnet.QMaxPool2D` drops it.
"""

from dataclasses import dataclass

import numpy as np

from golden_model.qnet import QMaxPool2D
from golden_model.qnet.model import max_pool
from hdl.errors import HardwareGenerationError

__all__ = ["PoolGeometry", "pool_reference", "pow2_key", "estimate", "plan_pools"]


@dataclass(frozen=True)
class PoolGeometry:
    """What a max-pool unit is built from.

    Parameters
    ----------
    height, width, channels : int
        The input map, channels-last.
    size : int
        Window side and stride, at least 2.
    element_width : int
    signed : bool
        Whether the values compare as signed integers.
    lanes : int
        Channels per beat; divides ``channels``.
    pow2 : bool
        Whether the values are power-of-two codes (bit 0 nonzero, bit 1
        negative, the exponent above), compared by the value they code.
    """

    height: int
    width: int
    channels: int
    size: int
    element_width: int
    signed: bool = False
    lanes: int = 1
    pow2: bool = False

    def __post_init__(self):
        if self.lanes < 1 or self.channels % self.lanes:
            raise HardwareGenerationError(
                f"max pool: lanes must divide the {self.channels} channels, got {self.lanes}")
        if not 2 <= self.size <= min(self.height, self.width):
            raise HardwareGenerationError(
                f"max pool: size must be in [2, {min(self.height, self.width)}] for a "
                f"{self.height}x{self.width} map, got {self.size}")

    @classmethod
    def of_pool(cls, layer, element_width, signed=False, lanes=1, pow2=False):
        """The geometry of a :class:`~golden_model.qnet.QMaxPool2D`."""
        h, w, c = (int(n) for n in layer.in_shape)
        return cls(h, w, c, int(layer.size), int(element_width), bool(signed), int(lanes),
                   bool(pow2))

    @property
    def groups(self):
        return self.channels // self.lanes

    @property
    def out_height(self):
        return self.height // self.size

    @property
    def out_width(self):
        return self.width // self.size

    @property
    def depth(self):
        """Words of the line of partial maxima."""
        return self.out_width * self.groups

    @property
    def word_width(self):
        return self.element_width * self.lanes

    @property
    def beats_in(self):
        return self.height * self.width * self.groups

    @property
    def beats_out(self):
        return self.out_height * self.out_width * self.groups


def pow2_key(codes):
    """The order of power-of-two codes: ``0`` for zero, ``+-(exponent + 1)`` else."""
    codes = np.asarray(codes, dtype=np.int64)
    magnitude = np.where(codes & 1, (codes >> 2) + 1, 0)
    return np.where(codes & 2, -magnitude, magnitude)


def pool_reference(geometry, image):
    """The output beats for one image: ``(beats_out, lanes)`` int64 (codes for ``pow2``)."""
    g = geometry
    x = np.asarray(image, dtype=np.int64).reshape(1, -1)
    shape = (g.height, g.width, g.channels)
    if not g.pow2:
        return max_pool(x, shape, g.size).reshape(-1, g.lanes)
    # Pool the keys; a key names its code up to the code of zero, which is 0.
    keys = max_pool(pow2_key(x), shape, g.size)
    codes = np.where(keys > 0, 1 | ((keys - 1) << 2), np.where(keys < 0, 3 | ((-keys - 1) << 2), 0))
    return codes.reshape(-1, g.lanes)


def estimate(geometry):
    """Resources (LUT4, FFs, line bits and depth) and cycles per image.

    One input beat per cycle. LUTs, fitted to ``synth_ice40`` (within 15 %
    on 28x28x8 and 14x14x16 maps): two per counter bit (increment and wrap
    compare) and five per two word bits (the comparator and the 2:1
    multiplexer of each lane, the first-beat select). A line of a few words
    Yosys keeps in flip-flops instead of a block RAM.
    """
    g = geometry

    def bits(n):
        return max(1, (int(n) - 1).bit_length())

    counters = (bits(g.groups) + 2 * bits(g.size) + bits(g.out_width + 1)
                + bits(g.out_height + 1) + bits(g.width) + bits(g.height) + bits(g.depth))
    return {
        "lut": 2 * counters + 5 * g.word_width // 2 + 8,
        "ff": 2 * g.word_width + counters + 4,
        "bits": g.depth * g.word_width,
        "depth": g.depth,
        "cycles": g.beats_in,
        "latency": 1,
    }


def plan_pools(qnet, layers):
    """``(k, PoolGeometry)`` of each max-pool of ``qnet``, on its producer's raw output
    lanes (``layers``: the planned dense and convolution layers)."""
    pools = []
    for k, layer in enumerate(qnet.layers):
        if isinstance(layer, QMaxPool2D):
            producer = [plan for plan in layers if plan.index < k][-1]
            pow2 = producer.requantize.pow2
            pools.append((k, PoolGeometry.of_pool(layer, producer.out_element_width,
                                                  producer.out_shape.signed and not pow2,
                                                  producer.pe, pow2)))
    return pools
