"""The trainer's per-lane arithmetic as Amaranth expressions (``docs/qtrain.md``).

Every function takes the module to add wires to and returns Amaranth values
(a value used more than once is a wire, not a copied expression): the weight sample (a pair of
select bits, never a weight times a value), the sign-select, the power-of-two
rounding of a layer input, and the shadow and bias updates (a barrel shift of
the error by the input's exponent, stochastic rounding, saturating clip).
"""

from amaranth.hdl import Const, Mux, Signal, unsigned

__all__ = ["clip", "sample_weight", "sign_select", "leading_one", "pow2_code", "round_input",
           "update_shadow", "update_bias"]


def _wire(m, value):
    wire = Signal(value.shape())
    m.d.comb += wire.eq(value)
    return wire


def clip(m, value, lo, hi):
    """``value`` saturated to ``[lo, hi]``."""
    value = _wire(m, value)
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


def sample_weight(m, plan, shadow, word):
    """``(plus, minus)``: the sampled weight of ``shadow`` is +1, -1 or (neither) 0.

    Deterministic thresholds, or a compare of the low bits of ``word``
    (``R(j, i)``) with the shadow ("Sampling the weights").
    """
    w0 = 1 << plan.w0_log2
    stochastic = plan.sampling == "stochastic"
    if plan.weight_mode == "binary":
        plus = (word[:plan.w0_log2 + 1] < shadow + w0) if stochastic else (shadow >= 0)
        return plus, ~plus
    if stochastic:
        rho = word[:plan.w0_log2]
        return (shadow > 0) & (rho < shadow), (shadow < 0) & (rho < -shadow)
    return shadow > w0 // 2, shadow < -(w0 // 2)


def sign_select(plus, minus, value):
    """``W * value`` for a weight given by its select bits."""
    return Mux(plus, value, Mux(minus, -value, 0))


def leading_one(m, magnitude):
    """Position of the highest set bit of unsigned ``magnitude`` (0 for 0)."""
    width = len(magnitude)
    lead = Const(0, unsigned(max(1, (width - 1).bit_length())))
    for bit in range(1, width):
        lead = Mux(magnitude[bit], bit, lead)
    return _wire(m, lead)


def round_input(m, plan, value, word):
    """Power-of-two rounding of a layer input for the update ("Update").

    Returns
    -------
    negative, nonzero, exponent
        ``sign(value)`` as two bits and ``e``; deterministic: leading one plus
        the next bit; stochastic: leading one ``p`` plus one if the low ``p``
        bits of ``word`` are below those of ``|value|``.
    """
    value = _wire(m, value)
    negative = value < 0
    magnitude = _wire(m, Mux(negative, -value, value).as_unsigned())
    lead = leading_one(m, magnitude)
    if plan.input_rounding == "stochastic":
        below = ((Const(1, unsigned(len(magnitude) + 1)) << lead) - 1)[:len(magnitude)]
        up = (word & below) < (magnitude & below)
    else:
        up = ((magnitude << 1) >> lead)[0]   # bit lead-1; 0 when lead is 0
    return negative, value != 0, lead + up


def pow2_code(m, value, e_max):
    """The QNet power-of-two code of ``value``: ``(negative, nonzero, e)``,
    ``e = min(leading one + next bit, e_max)`` (ties round up)."""
    negative = value < 0
    magnitude = _wire(m, Mux(negative, -value, value).as_unsigned())
    lead = leading_one(m, magnitude)
    exponent = _wire(m, lead + ((magnitude << 1) >> lead)[0])
    return negative, value != 0, Mux(exponent > e_max, e_max, exponent)


def _rounding_field(word, bits):
    return word[16:16 + bits] if bits else 0


def _select(m, exponent, choices):
    """``choices[exponent]`` (the last for larger exponents) as a wire."""
    chosen = choices[-1]
    for e in reversed(range(len(choices) - 1)):
        chosen = Mux(exponent == e, choices[e], chosen)
    return _wire(m, chosen)


def update_shadow(m, plan, lp, shadow, delta, negative, nonzero, exponent, word):
    """``clip(S - ((sigma (delta << e) + rho) >> eta), -W0, W0)``, ``rho`` from ``R >> 16``.

    Narrow, on magnitudes: with ``d = |delta|`` and ``rho`` complemented when the
    change is negative (``floor(-x) = -ceil(x)``), ``|change| = (d 2^e + rho) >> eta
    = q_e + c``: ``q_e = (d << e) >> eta`` saturated to ``2 W0`` (a larger change
    clips the same way) depends on the row's error only (one per exponent,
    shared by the lanes of a row), ``c`` is the carry of the low ``eta`` bits
    of ``d 2^e`` plus ``rho``. The lane selects ``q_e`` by its input's exponent
    and adds ``q_e + c`` to or subtracts it from ``S`` with one adder.
    """
    eta = lp.eta
    cap_log2 = plan.w0_log2 + 1
    cap = 1 << cap_log2
    # Exponents above the layer's largest never occur (the field may hold more).
    e_hi = min(getattr(lp, "input_exponent_max", 1 << len(exponent)), (1 << len(exponent)) - 1)
    delta_negative = delta < 0
    magnitude = _wire(m, Mux(delta_negative, -delta, delta).as_unsigned()[:len(delta)])
    # (d << e) >> eta >= cap  <=>  d >= 2**(cap_log2 + eta - e) (1 below 0).
    quotients = [Mux(magnitude >= (1 << max(0, cap_log2 + eta - e)), cap,
                     ((magnitude << e) >> eta)[:cap_log2 + 1]) for e in range(e_hi + 1)]
    quotient = _select(m, exponent, quotients)
    # The shadow grows when sigma * delta < 0.
    grow = _wire(m, negative ^ delta_negative)
    if eta:
        rho = _rounding_field(word, eta)
        rho = Mux(grow, ~rho, rho)[:eta]
        low = _select(m, exponent, [(magnitude << e)[:eta] for e in range(e_hi + 1)])
        carry = (low + rho)[eta]
    else:
        carry = 0
    # S - c = ~(~S + c): one adder either way.
    operand = Mux(grow, shadow, ~shadow)
    moved = _wire(m, operand + Mux(nonzero, quotient, 0) + (carry & nonzero))
    w0 = 1 << plan.w0_log2
    return clip(m, Mux(grow, moved, ~moved), -w0, w0)


def update_bias(m, plan, lp, bias, delta, word):
    """``clip(b - ((delta + rho_b) >> eta_b), -B0, B0)``, ``rho_b`` from ``R(j, n_in) >> 16``."""
    change = (delta + _rounding_field(word, lp.eta_bias)) >> lp.eta_bias
    b0 = 1 << plan.bias_log2
    return clip(m, bias - change, -b0, b0)
