import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hdl_nets import run_comb

from hdl.barrel_shifter import BarrelShifter, estimate, reference


@pytest.mark.parametrize("max_amount", [0, 1, 7, 9])
def test_right_shift_signed_exhaustive(max_amount):
    dut = BarrelShifter(signed(8), max_amount, direction="right")
    values = np.arange(-128, 128)
    amounts = np.arange(max_amount + 1)
    cases = [[(dut.i, int(v)), (dut.amount, int(a))] for v in values for a in amounts]
    got = np.array([r[0] for r in run_comb(dut, cases, [dut.o])])
    want = reference(np.repeat(values, len(amounts)), np.tile(amounts, len(values)))
    assert np.array_equal(got, want)


def test_left_shift_of_a_one_truncates_to_the_output_width():
    dut = BarrelShifter(unsigned(4), 5, direction="left", out_width=4)
    cases = [[(dut.i, 1), (dut.amount, a)] for a in range(6)]
    got = [r[0] for r in run_comb(dut, cases, [dut.o])]
    assert got == [1, 2, 4, 8, 0, 0]


def test_estimate_counts_one_mux_per_bit_per_stage():
    assert estimate(10, 7)["lut"] == 30
    assert estimate(10, 0)["lut"] == 0


def test_bad_direction_is_rejected():
    with pytest.raises(ValueError, match="direction"):
        BarrelShifter(signed(4), 3, direction="up")
