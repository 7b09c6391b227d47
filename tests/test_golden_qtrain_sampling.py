"""Weight sampling and the update's roundings: thresholds, exact probabilities, unbiasedness."""

from fractions import Fraction

import numpy as np
import pytest
from qtrain_reference import round_input as reference_round
from qtrain_reference import sample as reference_sample

from golden_model.qtrain.random_bits import field, layer_words, words
from golden_model.qtrain.sampling import round_input, sample_weights, shift_round


@pytest.mark.parametrize("mode", ["ternary", "binary"])
@pytest.mark.parametrize("stochastic", [False, True])
def test_sampling_equals_the_reference(mode, stochastic):
    rng = np.random.default_rng(1)
    w0_log2 = 6
    shadow = rng.integers(-64, 65, 500)
    word = rng.integers(0, 1 << 32, 500)
    got = sample_weights(shadow, w0_log2, mode, stochastic, word)
    expected = [reference_sample(int(s), w0_log2, mode, stochastic, int(r))
                for s, r in zip(shadow, word, strict=True)]
    np.testing.assert_array_equal(got, expected)


def test_deterministic_thresholds_are_the_float_trainers():
    shadow = np.array([-8, -5, -4, -1, 0, 1, 4, 5, 8])
    np.testing.assert_array_equal(sample_weights(shadow, 3, "ternary", False),
                                  [-1, -1, 0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(sample_weights(shadow, 3, "binary", False),
                                  [-1, -1, -1, -1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("mode", ["ternary", "binary"])
def test_stochastic_sampling_is_unbiased_over_all_random_fields(mode):
    w0_log2 = 4
    w0 = 1 << w0_log2
    span = w0 if mode == "ternary" else 2 * w0
    rho = np.arange(span)
    for s in range(-w0, w0 + 1):
        mean = Fraction(int(sample_weights(np.full(span, s), w0_log2, mode, True, rho).sum()),
                        span)
        assert mean == Fraction(s, w0)


def test_shift_round_is_exactly_unbiased_over_all_random_fields():
    for eta in range(0, 7):
        rho = np.arange(1 << eta)
        for v in range(-300, 301, 7):
            total = int(shift_round(np.full(rho.size, v), eta, rho).sum())
            assert Fraction(total, 1 << eta) == Fraction(v, 1 << eta)


def test_update_rounding_is_unbiased_with_the_contract_bits():
    # 65536 draws of (v + rho) >> eta with rho from the contract's high field.
    rows, columns = layer_words(17, 3, 1, 256, 256)
    word = words(rows, columns).ravel() >> 16
    for v, eta in ((5, 4), (-5, 4), (3, 7), (-1000, 11)):
        got = shift_round(np.full(word.size, v), eta, word)
        expected = v / 2 ** eta
        frac = expected - np.floor(expected)
        standard_error = np.sqrt(frac * (1 - frac) / word.size)
        assert abs(got.mean() - expected) < 4 * standard_error + 1e-12
        # Plain floor would miss by the whole fraction.
        assert abs(np.floor(expected) - expected) > 10 * standard_error


def test_round_input_equals_the_reference_and_is_unbiased():
    rng = np.random.default_rng(2)
    a = rng.integers(-3000, 3000, 400)
    word = rng.integers(0, 1 << 32, 400)
    for stochastic in (False, True):
        sign, exponent = round_input(a, stochastic, 12, word)
        expected = [reference_round(int(v), stochastic, 12, int(r))
                    for v, r in zip(a, word, strict=True)]
        np.testing.assert_array_equal(np.stack([sign, exponent], 1), expected)
    for value in (1, 3, 5, 6, 7, 100, 255, 1 << 20 | 12345):
        p = value.bit_length() - 1
        rho = np.arange(1 << min(p, 14)) << max(0, p - 14) if p else np.zeros(1, np.int64)
        sign, exponent = round_input(np.full(rho.size, value), True, 40, rho)
        assert Fraction(int((sign << exponent).sum()), rho.size) == value or p > 14


def test_round_input_with_contract_bits_has_the_right_mean():
    rows, columns = layer_words(4, 9, 0, 256, 256)
    word = words(rows, columns).ravel()
    sign, exponent = round_input(np.full(word.size, -11), True, 8, word)
    mean = (sign << exponent).mean()
    # -11 rounds to -8 or -16 with P(-16) = 3/8: sd of one draw = 8 * sqrt(15/64).
    assert abs(mean + 11) < 4 * 8 * np.sqrt(15 / 64) / np.sqrt(word.size)
    assert field(word, 3).max() == 7
