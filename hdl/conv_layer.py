"""A convolution layer: sliding window, then the dense engine per output pixel.

``map beats -> SlidingWindow -> MVU -> ceil(C_out/PE) beats per output pixel``

The window unit hands on each output pixel's window vector in the order of
the MVU's weight tiles, so the MVU (PE over output channels, SIMD over
``k*k*C_in``, requantize per channel) runs unchanged, taking each window as
one input vector. Its output stream is the output map, channels-last. A
loadable layer (``ram``/``spram`` weights) passes the MVU's weight-load port
through. Plan: :mod:`hdl.conv_layer_plan`.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.conv_layer_plan import ConvPlan, plan_conv
from hdl.mvu import MVU, output_lane_shape, wload_port_layout
from hdl.sliding_window import SlidingWindow

__all__ = ["ConvLayer", "ConvPlan", "plan_conv"]


class ConvLayer(wiring.Component):
    """Sliding window and MVU of one convolution (see the module docstring).

    Parameters
    ----------
    plan : ConvPlan
    load_word_width : int, optional
        Width of ``wload.word`` for a loadable layer (as for :class:`~hdl.mvu.MVU`).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(element_width), lanes)))
        The input map, channels-last, ``lanes`` channels a beat.
    o : Out(stream.Signature(ArrayLayout(output_lane_shape(plan.layer), pe)))
        The output map: per output pixel ``ceil(C_out/PE)`` beats of PE channels
        (the padding lanes of its last beat are meaningless).
    wload, weights_ready :
        Only for a loadable layer: the MVU's (see :class:`~hdl.mvu.MVU`).
    """

    def __init__(self, plan, load_word_width=None):
        self._plan = plan
        window, layer = plan.window, plan.layer
        members = {
            "i": In(stream.Signature(data.ArrayLayout(unsigned(window.element_width),
                                                      window.lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(output_lane_shape(layer), layer.pe))),
        }
        self._load_word_width = None
        if layer.loadable:
            self._load_word_width = load_word_width or max(1, (layer.weight_depth - 1)
                                                           .bit_length())
            members["wload"] = In(wload_port_layout(layer, self._load_word_width))
            members["weights_ready"] = In(1)
        super().__init__(members)

    @property
    def plan(self):
        return self._plan

    def __repr__(self):
        return f"ConvLayer(layer={self._plan.layer.index}, pe={self._plan.layer.pe})"

    def elaborate(self, platform):
        m = Module()
        m.submodules.window = window = SlidingWindow(self._plan.window)
        m.submodules.mvu = mvu = MVU(self._plan.layer, self._load_word_width)
        if self._plan.layer.loadable:
            m.d.comb += [mvu.wload.eq(self.wload), mvu.weights_ready.eq(self.weights_ready)]
        wiring.connect(m, wiring.flipped(self.i), window.i)
        wiring.connect(m, window.o, mvu.i)
        wiring.connect(m, mvu.o, wiring.flipped(self.o))
        return m
