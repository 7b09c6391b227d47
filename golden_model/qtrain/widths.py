"""Worst-case bounds of every QTrain intermediate, and the widths that hold them.

Bounds hold for any sampled weights, any state within its clip ranges and any
input within the input width (``docs/qtrain.md``, "Widths"). The update bounds
use the smallest shifts (epoch 0): decay only shrinks the updates.
"""

from dataclasses import dataclass

import numpy as np

from golden_model.qnet import pow2_decode, pow2_encode, signed_bits
from golden_model.qnet.codes import arithmetic_shift
from golden_model.qnet.widths import activation_range

#: Order of the bounds in :class:`QTrainWidths` (forward, error, backward, update).
NAMES = ("input", "acc", "sum", "z", "out", "error", "delta", "backward", "exponent",
         "update_sum", "delta_shadow", "shadow_pre_clip", "bias_sum", "delta_bias",
         "bias_pre_clip")


@dataclass(frozen=True)
class QTrainWidths:
    """One layer's inclusive bounds ``(low, high)`` by name (see :data:`NAMES`).

    ``error`` is the output error before its clip (last layer only, else the
    clip range); ``delta`` the clipped error of this layer's outputs;
    ``backward`` is ``W^T delta + rho`` before the shift (layer 0: none).
    """

    ranges: dict

    def bits(self, name):
        """Two's-complement width of a bound."""
        return signed_bits(*self.ranges[name])

    def to_json(self):
        return {name: [int(lo), int(hi), self.bits(name)] for name, (lo, hi) in
                self.ranges.items()}


def compute_widths(state):
    """Per layer :class:`QTrainWidths` of a :class:`QTrainState`."""
    config = state.config
    limit = config.delta_limit
    w0, b0 = config.w0, config.bias_limit
    lo, hi = 0, (1 << state.input.bits) - 1
    last = len(state.layers) - 1
    out = []
    for k, layer in enumerate(state.layers):
        n_in, n_out = layer.n_in, layer.n_out
        amp = max(abs(lo), abs(hi))
        r = {"input": (lo, hi)}
        r["acc"] = (n_in * min(lo, -hi), n_in * max(hi, -lo))
        r["sum"] = (r["acc"][0] - b0, r["acc"][1] + b0)
        z_lo = int(arithmetic_shift(r["sum"][0], layer.shift).min())
        z_hi = int(arithmetic_shift(r["sum"][1], layer.shift).max())
        r["z"] = (z_lo, z_hi)
        if k == last:
            r["out"] = r["z"]
            margin = config.target + max(abs(z_lo), abs(z_hi))
            r["error"] = (-margin, margin)
        else:
            qlayer = layer.qlayer(np.zeros((n_out, n_in), dtype=np.int8), config.weight_mode)
            y_lo, y_hi = activation_range(qlayer, z_lo, z_hi)
            if layer.pow2:
                y_lo = int(pow2_decode(*pow2_encode(y_lo, layer.e_max)))
                y_hi = int(pow2_decode(*pow2_encode(y_hi, layer.e_max)))
            r["out"] = (y_lo, y_hi)
            r["error"] = (-limit, limit)
        r["delta"] = (-limit, limit)
        r_k = config.backward_shift[k]
        r["backward"] = (-n_out * limit, n_out * limit + (1 << r_k) - 1) if k else (0, 0)
        e_max = int(amp).bit_length()
        eta, eta_bias = config.eta[k], config.eta_bias[k]
        r["exponent"] = (0, e_max)
        r["update_sum"] = (-(limit << e_max), (limit << e_max) + (1 << eta) - 1)
        r["delta_shadow"] = (r["update_sum"][0] >> eta, r["update_sum"][1] >> eta)
        step = max(-r["delta_shadow"][0], r["delta_shadow"][1])
        r["shadow_pre_clip"] = (-w0 - step, w0 + step)
        r["bias_sum"] = (-limit, limit + (1 << eta_bias) - 1)
        r["delta_bias"] = (r["bias_sum"][0] >> eta_bias, r["bias_sum"][1] >> eta_bias)
        step = max(-r["delta_bias"][0], r["delta_bias"][1])
        r["bias_pre_clip"] = (-b0 - step, b0 + step)
        out.append(QTrainWidths(ranges={name: tuple(int(v) for v in r[name]) for name in NAMES}))
        lo, hi = r["out"]
    return out
