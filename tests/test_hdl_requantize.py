import numpy as np
import pytest
from hdl_nets import pulse_latency, run_pipeline
from hypothesis import given, settings
from hypothesis import strategies as st

from golden_model.qnet import signed_bits, unsigned_bits
from hdl.requantize import RequantizeConfig, Requantizer, estimate, reference

ACTIVATIONS = ["relu", "trec", "tlin", "linear", None]


def _simulate(acc, bias, shift, threshold, activation, out_bits, pow2, e_max, seed=0):
    acc, bias, shift, threshold = (np.asarray(a, dtype=np.int64)
                                   for a in (acc, bias, shift, threshold))
    lead = max(0, -int(shift.min()))
    total = acc + bias
    z = reference(acc, bias, shift, threshold, None, out_bits)
    config = RequantizeConfig(
        acc_width=signed_bits(acc.min(), acc.max()), bias_width=signed_bits(bias.min(), bias.max()),
        threshold_width=unsigned_bits(threshold.max()),
        sum_width=signed_bits(total.min(), total.max()), lead=lead,
        max_amount=int((shift + lead).max()), z_width=signed_bits(z.min(), z.max()),
        activation=activation, out_bits=out_bits, pow2=pow2, e_max=e_max)
    dut = Requantizer(config)
    cases = [[(dut.acc, int(a)), (dut.bias, int(b)), (dut.amount, int(s + lead)),
              (dut.threshold, int(t))] for a, b, s, t in zip(acc, bias, shift, threshold,
                                                             strict=True)]
    got = run_pipeline(dut, cases, [dut.out], seed=seed)
    assert len(got) == len(acc)
    if pow2 and activation is not None:
        return (np.array([-1 if g[0].sign else (1 if g[0].nonzero else 0) for g in got]),
                np.array([g[0].exponent if g[0].nonzero else 0 for g in got]))
    return np.array([g[0] for g in got])


@settings(max_examples=15, deadline=None)
@given(activation=st.sampled_from(ACTIVATIONS), out_bits=st.integers(1, 9),
       pow2=st.booleans(), e_max=st.integers(0, 8), seed=st.integers(0, 2**16),
       left=st.booleans())
def test_requantize_matches_golden_random(activation, out_bits, pow2, e_max, seed, left):
    rng = np.random.default_rng(seed)
    n = 24
    acc = rng.integers(-3000, 3000, n)
    bias = rng.integers(-200, 200, n)
    shift = rng.integers(-3 if left else 0, 7, n)
    threshold = rng.integers(0, 40, n) if activation in ("trec", "tlin") else np.zeros(n, int)
    if activation == "relu" or activation == "linear":
        threshold = np.zeros(n, dtype=np.int64)
    got = _simulate(acc, bias, shift, threshold, activation, out_bits, pow2, e_max, seed)
    want = reference(acc, bias, shift, threshold, activation, out_bits, pow2, e_max)
    if pow2 and activation is not None:
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    else:
        assert np.array_equal(got, want)


@pytest.mark.parametrize("activation", ["relu", "trec", "tlin", "linear"])
def test_saturation_at_both_ends(activation):
    acc = np.array([10_000, -10_000, 127, 128, -128, -129, 0, 5, -5])
    n = len(acc)
    threshold = np.full(n, 5) if activation in ("trec", "tlin") else np.zeros(n, int)
    got = _simulate(acc, np.zeros(n, int), np.zeros(n, int), threshold, activation, 8,
                    False, 7)
    want = reference(acc, 0, 0, threshold, activation, 8)
    assert np.array_equal(got, want)
    if activation in ("tlin", "linear"):
        assert got[0] == 127 and got[1] == -128
    else:
        assert got[0] == 255 and got[1] == 0


def test_threshold_is_strict():
    acc = np.array([4, 5, 6, -5, -6])
    threshold = np.full(5, 5)
    assert _simulate(acc, 0 * acc, 0 * acc, threshold, "tlin", 8, False, 7).tolist() == \
        [0, 0, 6, 0, -6]
    assert _simulate(acc, 0 * acc, 0 * acc, threshold, "trec", 8, False, 7).tolist() == \
        [0, 0, 6, 0, 0]


def test_right_shift_floors_negative_values_and_left_shift():
    acc = np.array([-7, -8, 7, 3])
    shift = np.array([1, 2, 1, -2])
    got = _simulate(acc, 0 * acc, shift, 0 * acc, None, 8, False, 7)
    assert got.tolist() == [-4, -2, 3, 12]


def test_estimate_grows_with_pow2():
    base = dict(acc_width=12, bias_width=8, threshold_width=4, sum_width=13, lead=0,
                max_amount=7, z_width=13, activation="relu", out_bits=4, e_max=5)
    plain, coded = RequantizeConfig(**base), RequantizeConfig(**base, pow2=True)
    assert estimate(coded)["lut"] > estimate(plain)["lut"]
    assert coded.latency == plain.latency + 1


@pytest.mark.parametrize("activation,pow2", [(None, False), ("relu", False), ("tlin", True)])
def test_valid_out_exactly_latency_after_valid_in(activation, pow2):
    # The MVU sizes its FIFO reservation from `latency`: it must be exact.
    config = RequantizeConfig(acc_width=8, bias_width=4, threshold_width=2, sum_width=9, lead=0,
                              max_amount=1, z_width=9, activation=activation, out_bits=4,
                              pow2=pow2, e_max=3)
    dut = Requantizer(config)
    cycles, out = pulse_latency(dut, [(dut.acc, 5), (dut.bias, 1), (dut.amount, 1)], dut.out)
    assert cycles == config.latency == estimate(config)["cycles"]
    if not pow2:
        assert out == 3
