import pytest

from boards.pll import ClockReset, ecp5_pll_params, ice40_pll_params
from boards.registry import BoardError


@pytest.mark.parametrize("out_mhz", [30, 36, 48, 60])
def test_ice40_settings_are_in_range_and_exact_where_possible(out_mhz):
    pll = ice40_pll_params(12e6, out_mhz * 1e6)
    params = pll.params
    pfd = 12e6 / (params["DIVR"] + 1)
    vco = pfd * (params["DIVF"] + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
    assert pll.out_hz == vco / 2 ** params["DIVQ"] == out_mhz * 1e6


def test_ice40_30mhz_is_the_icepll_answer():
    assert ice40_pll_params(12e6, 30e6).params == {"DIVR": 0, "DIVF": 79, "DIVQ": 5,
                                                   "FILTER_RANGE": 1}


@pytest.mark.parametrize("in_mhz, out_mhz", [(25, 100), (48, 100), (25, 125), (25, 60)])
def test_ecp5_settings_are_in_range(in_mhz, out_mhz):
    pll = ecp5_pll_params(in_mhz * 1e6, out_mhz * 1e6)
    params = pll.params
    pfd = in_mhz * 1e6 / params["CLKI_DIV"]
    out = pfd * params["CLKFB_DIV"]
    assert 3.125e6 <= pfd <= 400e6 and 400e6 <= out * params["CLKOP_DIV"] <= 800e6
    assert out == pll.out_hz == pytest.approx(out_mhz * 1e6)


def test_no_pll_when_the_board_clock_is_wanted():
    assert ClockReset("ice40", 12e6, 12e6).pll is None
    assert ClockReset("ecp5", 25e6, 100e6).out_hz == 100e6


def test_unreachable_frequency_is_an_error():
    with pytest.raises(BoardError, match=r"--clock: no iCE40 PLL setting makes 1 MHz .*nearest"):
        ice40_pll_params(12e6, 1e6)
    with pytest.raises(BoardError, match="no ECP5 PLL setting makes 1000 MHz"):
        ecp5_pll_params(25e6, 1e9)
