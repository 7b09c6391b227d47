import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hdl_nets import run_comb

from golden_model.qnet import pow2_encode
from hdl.pow2 import Pow2Decoder, Pow2Encoder, reference_decode, reference_encode


@pytest.mark.parametrize("shape,values", [
    (signed(8), np.arange(-128, 128)),
    (unsigned(8), np.arange(0, 256)),
    (signed(1), np.array([-1, 0])),
])
@pytest.mark.parametrize("e_max", [0, 3, 7, 8])
def test_encoder_matches_golden_exhaustive(shape, values, e_max):
    dut = Pow2Encoder(shape, e_max)
    cases = [[(dut.y, int(v))] for v in values]
    got = np.array([[r[0].nonzero, r[0].sign, r[0].exponent]
                    for r in run_comb(dut, cases, [dut.code])])
    nonzero, sign, exponent = reference_encode(values, e_max)
    assert np.array_equal(got[:, 0], nonzero)
    assert np.array_equal(got[:, 1], sign)
    assert np.array_equal(got[:, 2], exponent)


def test_encoder_rounds_ties_up_and_clamps():
    # 3 = 0b11 -> 2**2 (round bit set); 5 = 0b101 -> 2**2; 6 -> 2**3; 255 clamps to e_max.
    sign, exponent = pow2_encode([3, 5, 6, 255, -6], 5)
    assert exponent.tolist() == [2, 2, 3, 5, 3]
    dut = Pow2Encoder(signed(10), 5)
    got = [r[0] for r in run_comb(dut, [[(dut.y, v)] for v in (3, 5, 6, 255, -6)], [dut.code])]
    assert [c.exponent for c in got] == [2, 2, 3, 5, 3]
    assert [c.sign for c in got] == [0, 0, 0, 0, 1]


@pytest.mark.parametrize("e_max", [0, 1, 6])
def test_decoder_exhaustive(e_max):
    dut = Pow2Decoder(e_max)
    cases, want = [], []
    for nonzero in (0, 1):
        for exponent in range(e_max + 1):
            cases.append([(dut.code, {"nonzero": nonzero, "sign": 1, "exponent": exponent})])
            want.append(abs(int(reference_decode(nonzero, 1, exponent))))
    got = [r[0] for r in run_comb(dut, cases, [dut.magnitude])]
    assert got == want
