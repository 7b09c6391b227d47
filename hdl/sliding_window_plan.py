"""Planning side of :mod:`hdl.sliding_window`: geometry, reference and estimate (no Amaranth).

A convolution's input arrives channels-last, ``lanes`` channels per beat (a
*word*; ``groups = C / lanes`` words per pixel). The window unit writes the
words into a ring of ``rows = k + stride`` line slots and reads, per output
pixel, the ``k * k * groups`` words of its window in ``(dy, dx, c)`` order,
the order of :attr:`golden_model.qnet.QConv2D.matrix`; a position outside
the map reads the layer's ``pad_value``.

Each line slot is ``2**row_bits`` words long (``row_bits`` the bits of
``W * groups``), so a buffer address is the slot index beside the word's
column offset: no address adder, no wrap compare on the column, only the
slot counters (modulo ``rows``) compare. The ``k`` rows a window needs plus
``stride`` rows the writer fills while the reader works on one output row
keep both sides busy at one word per cycle.
"""

from dataclasses import dataclass

import numpy as np

from golden_model.conv2d import conv_geometry, im2col
from hdl.errors import HardwareGenerationError

__all__ = ["WindowGeometry", "window_reference", "estimate"]


@dataclass(frozen=True)
class WindowGeometry:
    """What a sliding-window unit is built from.

    Parameters
    ----------
    height, width, channels : int
        The input map, channels-last.
    kernel, stride : int
    padding : {"same", "valid"}
    pad_value : tuple of int
        One per channel.
    element_width : int
        Bits of one (unsigned) channel value.
    lanes : int
        Channels per beat; divides ``channels``.
    """

    height: int
    width: int
    channels: int
    kernel: int
    stride: int
    padding: str
    pad_value: tuple
    element_width: int
    lanes: int = 1

    def __post_init__(self):
        if self.lanes < 1 or self.channels % self.lanes:
            raise HardwareGenerationError(
                f"sliding window: lanes must divide the {self.channels} channels, "
                f"got {self.lanes}")
        if len(self.pad_value) != self.channels:
            raise HardwareGenerationError(
                f"sliding window: expected {self.channels} pad values, "
                f"got {len(self.pad_value)}")
        if any(not 0 <= int(v) < (1 << self.element_width) for v in self.pad_value):
            raise HardwareGenerationError(
                f"sliding window: pad values must fit {self.element_width} "
                f"unsigned bits, got {tuple(self.pad_value)}")
        conv_geometry(self.height, self.kernel, self.stride, self.padding)
        conv_geometry(self.width, self.kernel, self.stride, self.padding)

    @classmethod
    def of_conv(cls, layer, element_width, lanes=1):
        """The geometry of a :class:`~golden_model.qnet.QConv2D`'s input side."""
        h, w, c = layer.in_shape
        return cls(int(h), int(w), int(c), layer.kernel, int(layer.stride), layer.padding,
                   tuple(int(v) for v in layer.pad_value), int(element_width), int(lanes))

    @property
    def groups(self):
        """Words (beats) per pixel."""
        return self.channels // self.lanes

    @property
    def pads(self):
        """``((top, bottom), (left, right))``."""
        return (conv_geometry(self.height, self.kernel, self.stride, self.padding)[1],
                conv_geometry(self.width, self.kernel, self.stride, self.padding)[1])

    @property
    def out_height(self):
        return conv_geometry(self.height, self.kernel, self.stride, self.padding)[0]

    @property
    def out_width(self):
        return conv_geometry(self.width, self.kernel, self.stride, self.padding)[0]

    @property
    def rows(self):
        """Line slots in the ring: the window's rows plus the rows of one step."""
        return self.kernel + self.stride

    @property
    def row_bits(self):
        """Address bits of a word's column offset within a line slot."""
        return max(1, (self.width * self.groups - 1).bit_length())

    @property
    def depth(self):
        """Words of the line buffer."""
        return self.rows << self.row_bits

    @property
    def word_width(self):
        return self.element_width * self.lanes

    @property
    def beats_in(self):
        """Input beats per image."""
        return self.height * self.width * self.groups

    @property
    def window_beats(self):
        """Output beats per window: ``k * k * groups``."""
        return self.kernel * self.kernel * self.groups

    @property
    def beats_out(self):
        """Output beats per image."""
        return self.out_height * self.out_width * self.window_beats


def window_reference(geometry, image):
    """The output beats for one image: ``(beats_out, lanes)`` int64, im2col order.

    Parameters
    ----------
    image : array_like of int, ``H * W * C`` values, channels-last
    """
    g = geometry
    x = np.asarray(image, dtype=np.int64).reshape(1, g.height, g.width, g.channels)
    cols = im2col(x, g.kernel, g.stride, g.pads, np.asarray(g.pad_value, dtype=np.int64))
    return cols.reshape(-1, g.lanes)


def estimate(geometry):
    """Resources (LUT4, FFs, buffer bits and depth) and cycles per image.

    The reader emits one word per cycle and waits one cycle per output row
    (its registered row count), so an image takes ``beats_out + out_height``
    cycles once its first ``k`` rows are in; the writer takes ``beats_in``. LUTs,
    fitted to ``synth_ice40`` (within 20 % on 28x28x1, 14x14x8 by 4 lanes,
    14x14x16 and 8x8 stride 2): about two per counter and compare bit (the
    increment or compare and its multiplexer), and the pad multiplexer on
    the output word.
    """
    g = geometry
    slot = max(1, (g.rows - 1).bit_length())
    row_count = (g.height + g.kernel + g.stride).bit_length() + 1
    col = g.row_bits + 1 + max(1, (g.kernel * g.groups).bit_length())
    group = max(1, (g.groups - 1).bit_length())
    counters = (g.row_bits + slot            # writer column and slot
                + 3 * slot                   # reader base, row slot, count of filled rows
                + 2 * col                    # window column start and current column
                + 2 * row_count              # window top row and current row
                + group + 2 * max(1, g.kernel.bit_length())
                + 2 * max(1, max(g.out_height, g.out_width).bit_length()))
    compares = 3 * row_count + 2 * col
    pad_mux = g.word_width if any(g.pad_value) else g.word_width // 2
    return {
        "lut": 2 * (counters + compares) + pad_mux + group * g.word_width // 4,
        "ff": counters + g.word_width + group + 2,
        "bits": g.depth * g.word_width,
        "depth": g.depth,
        "cycles": max(g.beats_out + g.out_height, g.beats_in),
        "latency": 1,
    }
