"""Activation quantizer: round half up, saturation at the width bounds, pow2 codes, STE."""

import numpy as np
import pytest

from golden_model import qnet
from golden_model.act_quant import ActQuant, code_range, pow2_encode, pow2_value, saturate
from golden_model.errors import MulfreeError
from golden_model.layer import EVAL, RunMode

TRAIN = RunMode(train=True)


def test_int_rounds_half_up_and_saturates_unsigned():
    q = ActQuant("int", bits=3, signed=False, frac_bits=1)
    u = np.array([-1.0, -0.25, 0.24, 0.25, 0.75, 1.25, 3.49, 3.5, 3.75, 100.0], np.float32)
    np.testing.assert_array_equal(q.codes(u), [0, 0, 0, 1, 2, 3, 7, 7, 7, 7])
    np.testing.assert_array_equal(q.forward(u, EVAL), q.codes(u) * 0.5)


def test_int_signed_bounds():
    q = ActQuant("int", bits=4, signed=True, frac_bits=0)
    u = np.array([-100, -8.5, -8.4, -0.5, -0.51, 0.5, 7.4, 7.5, 100], np.float32)
    np.testing.assert_array_equal(q.forward(u, EVAL), [-8, -8, -8, 0, -1, 1, 7, 7, 7])


@pytest.mark.parametrize("bits, signed, low, high", [
    (1, False, 0, 1), (2, True, -2, 1), (8, False, 0, 255), (32, True, -2**31, 2**31 - 1)])
def test_code_range_at_width_bounds(bits, signed, low, high):
    assert code_range(bits, signed) == (low, high)
    assert saturate(np.array([low - 1, low, high, high + 1]), bits, signed).tolist() == \
        [low, low, high, high]


def test_negative_frac_bits_means_step_above_one():
    q = ActQuant("int", bits=4, frac_bits=-2)
    assert q.step == 4.0
    np.testing.assert_array_equal(q.forward(np.array([1.9, 2.0, 70.0], np.float32), EVAL),
                                  [0, 4, 60])


def test_pow2_encode_table():
    codes = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 255, -1, -3, -6, -128])
    sign, e = pow2_encode(codes, e_max=7)
    assert sign.tolist() == [0] + [1] * 11 + [-1] * 4
    assert e.tolist() == [0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 4, 7, 0, 2, 3, 7]
    assert pow2_value(codes, 7).tolist() == [0, 1, 2, 4, 4, 4, 8, 8, 8, 8, 16, 128,
                                             -1, -4, -8, -128]
    assert pow2_value(np.array([255, 12, 3]), 2).tolist() == [4, 4, 4]


def test_pow2_forward_agrees_with_the_qnet():
    codes = np.arange(-300, 300)
    for e_max in (0, 3, 8):
        q = ActQuant("pow2", bits=10, signed=True, frac_bits=2, e_max=e_max)
        sign, exponent = qnet.pow2_encode(codes, e_max)
        ours = q.forward((codes * q.step).astype(np.float32), EVAL)
        np.testing.assert_array_equal(ours, qnet.pow2_decode(sign, exponent) * q.step)
        np.testing.assert_array_equal(np.sign(ours), sign)


def test_pow2_mode_forward():
    q = ActQuant("pow2", bits=4, signed=False, frac_bits=2)
    assert q.e_max == 3
    u = np.array([0.0, 0.1, 0.25, 0.75, 1.5, 2.0, 2.9, 10.0], np.float32)
    # codes 0 0 1 3 6 8 12 15 -> 0 0 1 4 8 8 8 8
    np.testing.assert_array_equal(q.forward(u, EVAL), np.array([0, 0, 1, 4, 8, 8, 8, 8]) * 0.25)
    s = ActQuant("pow2", bits=4, signed=True, frac_bits=0)
    assert s.e_max == 2
    np.testing.assert_array_equal(s.forward(np.array([-9, -3, 3, 9], np.float32), EVAL),
                                  [-4, -4, 4, 4])


def test_straight_through_gradient_stops_at_saturation():
    q = ActQuant("int", bits=3, signed=True, frac_bits=0)
    u = np.array([-5.0, -4.5, -4.4, 0.3, 3.4, 3.5, 9.0], np.float32)  # -4.5 rounds up to -4
    q.forward(u, TRAIN)
    np.testing.assert_array_equal(q.backward(np.ones(7, np.float32)), [0, 1, 1, 1, 1, 0, 0])
    p = ActQuant("pow2", bits=3, frac_bits=0)
    p.forward(np.array([5.0, 7.4, 7.5], np.float32), TRAIN)
    np.testing.assert_array_equal(p.backward(np.full(3, 2.0, np.float32)), [2, 2, 0])


def test_bad_arguments():
    with pytest.raises(MulfreeError, match="mode 'log'"):
        ActQuant("log")
    with pytest.raises(MulfreeError, match="bits=0"):
        ActQuant("int", bits=0)
    with pytest.raises(MulfreeError, match="bits=1"):
        ActQuant("int", bits=1, signed=True)
