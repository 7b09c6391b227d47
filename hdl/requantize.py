"""Requantize unit: bias add, arithmetic shift, activation, saturation, pow2 code.

Per neuron ``j`` (parameters arrive with the accumulator, read from the
MVU's parameter memory):

``z = (acc + b) >> s`` (floor; a negative ``s`` is a left shift), then the
activation, saturation to ``out_bits`` and optionally the power-of-two code.
Left and right shifts share one right barrel shifter: the sum is first
shifted left by the constant ``lead = max(0, -min(s))`` (wiring) and then
right by ``s + lead``, which is never negative.

For the output layer the unit stops at ``z`` (the logit).

The inputs are registered before the bias add: in an MVU the parameters come
straight from block RAM, whose late output (about 6 ns on the ECP5) left too
little of a 100 MHz cycle for the carry chain of the add.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden_model.qnet import UNSIGNED_ACTIVATIONS, pow2_encode
from hdl.barrel_shifter import BarrelShifter
from hdl.pow2 import Pow2Encoder, pow2_layout
from hdl.requantize_plan import RequantizeConfig, estimate

__all__ = ["Requantizer", "RequantizeConfig", "reference", "estimate", "y_shape", "out_shape"]


def y_shape(config):
    """Shape of the saturated activation ``y`` of a :class:`RequantizeConfig`."""
    return signed(config.out_bits) if config.signed_out else unsigned(config.out_bits)


def out_shape(config):
    """Shape of what the unit hands on: ``z``, ``y`` or the pow2 code."""
    if config.activation is None:
        return signed(config.z_width)
    if config.pow2:
        return pow2_layout(config.e_max)
    return y_shape(config)


def reference(acc, bias, shift, threshold, activation, out_bits, pow2=False, e_max=7):
    """NumPy behaviour: the QNet's requantize step for given parameters.

    Returns ``z`` for ``activation=None``; the saturated activation, or the
    ``(sign, exponent)`` pair for ``pow2``, otherwise.
    """
    total = np.asarray(acc, dtype=np.int64) + np.asarray(bias, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    z = np.where(shift >= 0, total >> np.maximum(shift, 0), total << np.maximum(-shift, 0))
    if activation is None:
        return z
    t = np.asarray(threshold, dtype=np.int64)
    if activation == "relu":
        y = np.maximum(z, 0)
    elif activation == "trec":
        y = np.where(z > t, z, 0)
    elif activation == "tlin":
        y = np.where(np.abs(z) > t, z, 0)
    else:
        y = z
    if activation in UNSIGNED_ACTIVATIONS:
        y = np.clip(y, 0, (1 << out_bits) - 1)
    else:
        y = np.clip(y, -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1)
    return pow2_encode(y, e_max) if pow2 else y


class Requantizer(wiring.Component):
    """Pipelined requantize unit for one neuron lane.

    Parameters
    ----------
    config : RequantizeConfig

    Members
    -------
    valid_in : In(1)
    acc : In(signed(acc_width))
    bias : In(signed(bias_width))
    amount : In(unsigned)
        ``s + lead`` for this neuron.
    threshold : In(unsigned(threshold_width))
    valid_out : Out(1)
    out : Out(out_shape(config))
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "valid_in": In(1),
            "acc": In(signed(config.acc_width)),
            "bias": In(signed(config.bias_width)),
            "amount": In(unsigned(max(1, config.max_amount.bit_length()))),
            "threshold": In(unsigned(max(1, config.threshold_width))),
            "valid_out": Out(1),
            "out": Out(out_shape(config)),
        })

    @property
    def config(self):
        return self._config

    @property
    def latency(self):
        return self._config.latency

    def __repr__(self):
        return f"Requantizer({self._config!r})"

    def elaborate(self, platform):
        m = Module()
        cfg = self._config

        # Stage 0: input register (the parameters arrive from a memory port).
        acc0 = Signal.like(self.acc)
        bias0 = Signal.like(self.bias)
        amount0 = Signal.like(self.amount)
        threshold0 = Signal.like(self.threshold)
        valid0 = Signal()
        m.d.sync += [
            acc0.eq(self.acc),
            bias0.eq(self.bias),
            amount0.eq(self.amount),
            threshold0.eq(self.threshold),
            valid0.eq(self.valid_in),
        ]

        # Stage 1: bias add; the parameters that later stages need travel along.
        total = Signal(signed(cfg.sum_width))
        amount = Signal.like(self.amount)
        threshold = Signal.like(self.threshold)
        valid1 = Signal()
        m.d.sync += [
            total.eq(acc0 + bias0),
            amount.eq(amount0),
            threshold.eq(threshold0),
            valid1.eq(valid0),
        ]

        # Stage 2: constant left lead, then one right barrel shift.
        m.submodules.shifter = shifter = BarrelShifter(
            signed(cfg.sum_width + cfg.lead), cfg.max_amount, direction="right",
            out_width=cfg.sum_width + cfg.lead)
        z = Signal(signed(cfg.z_width))
        threshold2 = Signal.like(self.threshold)
        valid2 = Signal()
        m.d.comb += [shifter.i.eq(total << cfg.lead), shifter.amount.eq(amount)]
        m.d.sync += [z.eq(shifter.o), threshold2.eq(threshold), valid2.eq(valid1)]
        if cfg.activation is None:
            m.d.comb += [self.out.eq(z), self.valid_out.eq(valid2)]
            return m

        # Stage 3: activation and saturation.
        if cfg.activation == "relu":
            active = z > 0
        elif cfg.activation == "trec":
            active = z > threshold2
        elif cfg.activation == "tlin":
            active = (z > threshold2) | ((z + threshold2) < 0)
        else:
            active = 1
        if cfg.signed_out:
            lo, hi = -(1 << (cfg.out_bits - 1)), (1 << (cfg.out_bits - 1)) - 1
        else:
            lo, hi = 0, (1 << cfg.out_bits) - 1
        y = Signal(y_shape(cfg))
        valid3 = Signal()
        saturated = Mux(z > hi, hi, Mux(z < lo, lo, z))
        m.d.sync += [y.eq(Mux(active, saturated, 0)), valid3.eq(valid2)]
        if not cfg.pow2:
            m.d.comb += [self.out.eq(y), self.valid_out.eq(valid3)]
            return m

        # Stage 4: power-of-two code.
        m.submodules.encoder = encoder = Pow2Encoder(y_shape(cfg), cfg.e_max)
        code = Signal(pow2_layout(cfg.e_max))
        valid4 = Signal()
        m.d.comb += encoder.y.eq(y)
        m.d.sync += [code.eq(encoder.code), valid4.eq(valid3)]
        m.d.comb += [self.out.eq(code), self.valid_out.eq(valid4)]
        return m
