"""Planning side of :mod:`hdl.requantize`: the unit's static configuration, latency and
estimate (no Amaranth)."""

from golden_model.qnet import UNSIGNED_ACTIVATIONS
from hdl.barrel_shifter_plan import estimate as estimate_shifter
from hdl.pow2_plan import estimate_encoder

__all__ = ["RequantizeConfig", "estimate"]


class RequantizeConfig:
    """Static description of a requantize unit (same for all neurons of a layer).

    Parameters
    ----------
    acc_width : int
        Width of the signed accumulator input.
    bias_width, threshold_width : int
        Widths of the per-neuron parameters (bias signed, threshold unsigned).
    sum_width : int
        Signed width that holds ``acc + b`` for every neuron.
    lead, max_amount : int
        Constant left shift and largest right shift (``s + lead``).
    z_width : int
        Signed width of ``z``.
    activation : str or None
        None for the output layer (the unit outputs ``z``).
    out_bits : int
    pow2 : bool
    e_max : int
    """

    def __init__(self, *, acc_width, bias_width, threshold_width, sum_width, lead, max_amount,
                 z_width, activation=None, out_bits=8, pow2=False, e_max=7):
        self.acc_width = int(acc_width)
        self.bias_width = int(bias_width)
        self.threshold_width = int(threshold_width)
        self.sum_width = int(sum_width)
        self.lead = int(lead)
        self.max_amount = int(max_amount)
        self.z_width = int(z_width)
        self.activation = activation
        self.out_bits = int(out_bits)
        self.pow2 = bool(pow2)
        self.e_max = int(e_max)

    @property
    def signed_out(self):
        return self.activation not in UNSIGNED_ACTIVATIONS

    @property
    def latency(self):
        """Cycles from ``valid_in`` to ``valid_out``."""
        if self.activation is None:
            return 3
        return 4 + int(self.pow2)

    def __repr__(self):
        return f"RequantizeConfig({self.__dict__!r})"


def estimate(config):
    """Resource estimate of one unit (LUT4, FFs) and its latency."""
    shifter = estimate_shifter(config.sum_width + config.lead, config.max_amount)
    lut = config.sum_width + shifter["lut"]
    # input register, sum, z
    ff = (config.acc_width + config.bias_width + config.max_amount.bit_length()
          + config.threshold_width + config.sum_width + config.z_width)
    if config.activation is not None:
        lut += 2 * config.z_width + config.out_bits
        ff += config.out_bits
        if config.pow2:
            lut += estimate_encoder(config.out_bits, config.e_max)["lut"]
            ff += max(1, config.e_max.bit_length()) + 2
    return {"lut": lut, "ff": ff, "cycles": config.latency}
