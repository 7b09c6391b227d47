"""Planning side of :mod:`hdl.conv_layer`: a convolution as a window unit and an MVU.

The sliding window (:mod:`hdl.sliding_window_plan`) turns the input map into
one vector of ``k * k * C_in`` values per output pixel; the MVU treats each
vector as one input "image" of a dense layer whose matrix is the
convolution's weights in ``(dy, dx, c)`` order (PE over output channels,
SIMD over ``k * k * C_in``), and requantizes per output channel. No Amaranth.
"""

from dataclasses import dataclass

from golden_model.qnet import QConv2D
from hdl.errors import HardwareGenerationError
from hdl.layer_plan import plan_layer
from hdl.sliding_window_plan import WindowGeometry
from hdl.sliding_window_plan import estimate as window_estimate

__all__ = ["ConvPlan", "plan_conv"]


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
        if self.window.window_beats >= self.layer.compute_cycles:
            cost["cycles"] += self.window.out_height  # a cycle per output row
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
    return ConvPlan(plan.window, plan)
