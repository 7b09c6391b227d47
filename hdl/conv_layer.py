"""A convolution layer: sliding window, then the dense engine per output pixel.

``map beats -> SlidingWindow -> MVU -> ceil(C_out/PE) beats per output pixel``

The window unit hands on each output pixel's window vector in the order of
the MVU's weight tiles, so the MVU (PE over output channels, SIMD over
``k*k*C_in``, requantize per channel) runs unchanged, taking each window as
one input vector. Its output stream is the output map, channels-last. Plan:
:mod:`hdl.conv_layer_plan`.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.conv_layer_plan import ConvPlan, plan_conv
from hdl.mvu import MVU, output_lane_shape
from hdl.sliding_window import SlidingWindow

__all__ = ["ConvLayer", "ConvPlan", "plan_conv"]


class ConvLayer(wiring.Component):
    """Sliding window and MVU of one convolution (see the module docstring).

    Parameters
    ----------
    plan : ConvPlan

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(element_width), lanes)))
        The input map, channels-last, ``lanes`` channels a beat.
    o : Out(stream.Signature(ArrayLayout(output_lane_shape(plan.layer), pe)))
        The output map: per output pixel ``ceil(C_out/PE)`` beats of PE channels
        (the padding lanes of its last beat are meaningless).
    """

    def __init__(self, plan):
        self._plan = plan
        window, layer = plan.window, plan.layer
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(window.element_width),
                                                      window.lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(output_lane_shape(layer), layer.pe))),
        })

    @property
    def plan(self):
        return self._plan

    def __repr__(self):
        return f"ConvLayer(layer={self._plan.layer.index}, pe={self._plan.layer.pe})"

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = window = SlidingWindow(self._plan.window)
        m.submodules.mvu = mvu = MVU(self._plan.layer)
        wiring.connect(m, wiring.flipped(self.i), window.i)
        wiring.connect(m, window.o, mvu.i)
        wiring.connect(m, mvu.o, wiring.flipped(self.o))
        return m
