"""The trainer's lane arithmetic against the golden model, exhaustively on small widths."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from golden_model.qnet import pow2_encode
from golden_model.qtrain.sampling import round_input as golden_round_input
from golden_model.qtrain.sampling import sample_weights, shift_round
from hdl.trainer.lanes import pow2_code, round_input, sample_weight, update_bias, update_shadow


def _evaluate(shapes, build, cases):
    """Values of ``build(*inputs)`` (a tuple of expressions) for every case."""
    m = Module()
    inputs = [Signal(shape) for shape in shapes]
    exprs = build(m, *inputs)
    outputs = [Signal(e.shape()) for e in exprs]
    m.d.comb += [o.eq(e) for o, e in zip(outputs, exprs, strict=True)]
    got = []

    async def bench(ctx):
        for case in cases:
            for signal, value in zip(inputs, case, strict=True):
                ctx.set(signal, int(value))
            got.append(tuple(ctx.get(o) for o in outputs))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("weight_mode", ["ternary", "binary"])
@pytest.mark.parametrize("sampling", ["deterministic", "stochastic"])
def test_sample_weight_every_shadow_and_random_field(weight_mode, sampling):
    plan = SimpleNamespace(w0_log2=3, weight_mode=weight_mode, sampling=sampling)
    cases = list(itertools.product(range(-8, 9), range(32)))
    got = _evaluate([signed(5), unsigned(32)],
                    lambda m, s, w: sample_weight(m, plan, s, w), cases)
    shadow, word = np.array(cases).T
    expected = sample_weights(shadow, 3, weight_mode, sampling == "stochastic", word)
    assert [int(p) - int(n) for p, n in got] == expected.tolist()


@pytest.mark.parametrize("rounding", ["deterministic", "stochastic"])
def test_round_input_every_value_and_field(rounding):
    plan = SimpleNamespace(input_rounding=rounding)
    words = range(64) if rounding == "stochastic" else [0]
    cases = list(itertools.product(range(-63, 64), words))
    got = _evaluate([signed(7), unsigned(32)], lambda m, a, w: round_input(m, plan, a, w), cases)
    a, word = np.array(cases).T
    sign, exponent = golden_round_input(a, rounding == "stochastic", 6, word)
    assert [(1 if nz else 0) * (-1 if neg else 1) for neg, nz, _ in got] == sign.tolist()
    assert [e for _, _, e in got] == exponent.tolist()


def test_pow2_code_every_value_with_a_clamp():
    cases = [(y,) for y in range(-64, 64)]
    got = _evaluate([signed(7)], lambda m, y: pow2_code(m, y, 4), cases)
    sign, exponent = pow2_encode(np.arange(-64, 64), 4)
    assert [(1 if nz else 0) * (-1 if neg else 1) for neg, nz, _ in got] == sign.tolist()
    assert [e for _, _, e in got] == exponent.tolist()


@pytest.mark.parametrize("eta,exponent_bits,e_max", [(0, 2, None), (2, 2, None), (5, 2, None),
                                                     (2, 3, 5), (3, 3, 7)])
def test_update_shadow_every_error_exponent_sign_and_rounding_field(eta, exponent_bits, e_max):
    # eta above every exponent (all rounding), and exponents up to the layer's
    # largest when the field could hold more (a saturated change: 7 << 5 >> 2).
    plan = SimpleNamespace(w0_log2=3)
    lp = SimpleNamespace(eta=eta) if e_max is None else \
        SimpleNamespace(eta=eta, input_exponent_max=e_max)
    exponents = range(1 << exponent_bits) if e_max is None else range(e_max + 1)
    cases = [(s, d, neg, nz, e, rho << 16)
             for s, d, (neg, nz), e, rho in itertools.product(
                 (-8, -5, 0, 3, 8), range(-7, 8), ((0, 1), (1, 1), (0, 0)), exponents,
                 range(1 << eta))]
    got = _evaluate([signed(5), signed(4), unsigned(1), unsigned(1), unsigned(exponent_bits),
                     unsigned(32)],
                    lambda m, *v: (update_shadow(m, plan, lp, *v),), cases)
    s, d, neg, nz, e, word = np.array(cases).T
    value = np.where(nz == 1, np.where(neg == 1, -1, 1), 0) * (d << e)
    expected = np.clip(s - shift_round(value, eta, word >> 16), -8, 8)
    assert [g for g, in got] == expected.tolist()


@pytest.mark.parametrize("eta_bias", [0, 3])
def test_update_bias_every_error_and_rounding_field(eta_bias):
    plan = SimpleNamespace(bias_log2=2)
    lp = SimpleNamespace(eta_bias=eta_bias)
    cases = [(b, d, rho << 16) for b, d, rho in itertools.product(
        range(-4, 5), range(-7, 8), range(1 << eta_bias))]
    got = _evaluate([signed(4), signed(4), unsigned(32)],
                    lambda m, *v: (update_bias(m, plan, lp, *v),), cases)
    b, d, word = np.array(cases).T
    expected = np.clip(b - shift_round(d, eta_bias, word >> 16), -4, 4)
    assert [g for g, in got] == expected.tolist()
