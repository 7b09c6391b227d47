"""Planning side of :mod:`hdl.conv_layer`: a convolution as a window unit and an MVU.

The sliding window (:mod:`hdl.sliding_window_plan`) turns the input map into
one vector of ``k * k * C_in`` values per output pixel; the MVU treats each
vector as one input "image" of a dense layer whose matrix is the
convolution's weights in ``(dy, dx, c)`` order (PE over output channels,
SIMD over ``k * k * C_in``), and requantizes per output channel. No Amaranth.
"""

from dataclasses import dataclass, replace

import numpy as np

from golden_model.qnet import QConv2D
from hdl.errors import HardwareGenerationError
from hdl.layer_plan import plan_layer
from hdl.sliding_window_plan import WindowGeometry
from hdl.sliding_window_plan import estimate as window_estimate

__all__ = ["ConvPlan", "plan_conv", "raw_pad_value"]


def raw_pad_value(layer_plan, pad_value):
    """The padding as the raw element bits the layer receives (a power-of-two code
    when its producer hands on codes: bit 0 nonzero, bit 1 negative, exponent above)."""
    values = np.asarray(pad_value, dtype=np.int64)
    if layer_plan.in_pow2:
        from golden_model.qnet import pow2_encode

        sign, exponent = pow2_encode(values, layer_plan.in_e_max)
        values = (sign != 0) | ((sign < 0) << 1) | (exponent << 2)
    return tuple(int(v) for v in values & ((1 << layer_plan.element_width) - 1))


@dataclass(frozen=True)
class ConvPlan:
    """A planned convolution layer: its window geometry and its MVU's layer plan."""

    window: WindowGeometry
    layer: object

    @property
    def out_shape(self):
        return (self.window.out_height, self.window.out_width, self.layer.n_out)

    @property
    def beats_out(self):
        """Output beats per image: ``ceil(C_out / PE)`` per output pixel."""
        return self.window.out_height * self.window.out_width * self.layer.neuron_folds

    @property
    def cycles_per_window(self):
        """The slower of the window unit (``k*k*C_in / lanes`` beats) and the MVU
        (``ceil(C_out/PE) * ceil(k*k*C_in/SIMD)`` cycles)."""
        return max(self.window.window_beats, self.layer.compute_cycles)

    def estimate(self):
        """The window unit's estimate with the layer's cycles per image."""
        cost = dict(window_estimate(self.window))
        cost["cycles"] = self.window.out_height * self.window.out_width * self.cycles_per_window
        return cost


def plan_conv(qnet, k, pe, simd, lanes, datapath="signselect", weight_store="rom"):
    """Plan convolution layer ``k`` of ``qnet``; its input arrives ``lanes`` channels a beat.

    Raises
    ------
    HardwareGenerationError
        If layer ``k`` is not a convolution, or ``lanes`` does not divide its channels.
    """
    layer = qnet.layers[k]
    if not isinstance(layer, QConv2D):
        raise HardwareGenerationError(f"layer {k}: expected a conv2d layer, got "
                                      f"{type(layer).__name__}")
    plan = plan_layer(qnet, k, pe, simd, lanes, datapath, weight_store)
    channels = layer.in_shape[2]
    if channels % lanes:
        raise HardwareGenerationError(
            f"layer {k}: in_lanes: expected a divisor of its {channels} input channels "
            f"(a beat holds channels of one pixel), got {lanes}")
    window = replace(WindowGeometry.of_conv(layer, plan.element_width, lanes),
                     pad_value=raw_pad_value(plan, layer.pad_value))
    return ConvPlan(window, plan)
