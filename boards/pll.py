"""Clock generation: the board oscillator to the accelerator clock.

The PLL settings are searched the way ``icepll`` and ``ecppll`` do, within
the datasheet ranges, and the achieved frequency is reported (it may differ
slightly from the one asked for). A power-on reset holds the ``sync`` domain
until the PLL has locked and, on iCE40, until the block RAMs read correctly
(they read zero for a few microseconds after configuration).

Members
-------
ice40_pll_params, ecp5_pll_params
    Search for divider settings.
ClockReset
    Elaboratable that creates the ``sync`` domain for a board.
"""

from dataclasses import dataclass

from amaranth import (
    ClockDomain,
    ClockSignal,
    Elaboratable,
    Instance,
    Module,
    ResetSignal,
    Signal,
)
from amaranth.lib import io

from boards.registry import BoardError


@dataclass(frozen=True)
class PLLParams:
    """Divider settings and the frequency they make."""

    out_hz: float
    params: dict


#: Largest relative difference between the wanted and the made frequency.
PLL_TOLERANCE = 0.01


def _checked(best, family, in_hz, out_hz):
    if best is None or abs(best.out_hz - out_hz) > PLL_TOLERANCE * out_hz:
        nearest = f" (nearest {best.out_hz / 1e6:.3f} MHz)" if best else ""
        raise BoardError(f"--clock: no {family} PLL setting makes {out_hz / 1e6:g} MHz from "
                         f"the board's {in_hz / 1e6:g} MHz{nearest}; expected a frequency "
                         f"within {PLL_TOLERANCE:.0%} of one it can make")
    return best


def ice40_pll_params(in_hz, out_hz):
    """``SB_PLL40_CORE`` settings (SIMPLE feedback) nearest to ``out_hz``.

    ``f_pfd = in/(DIVR+1)`` in [10, 133] MHz, ``f_vco = f_pfd*(DIVF+1)`` in
    [533, 1066] MHz, ``out = f_vco / 2**DIVQ``.
    """
    best = None
    for divr in range(16):
        pfd = in_hz / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if best is None or abs(out - out_hz) < abs(best.out_hz - out_hz):
                    filter_range = sum(pfd >= edge for edge in (17e6, 26e6, 44e6, 66e6, 101e6))
                    best = PLLParams(out, {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                           "FILTER_RANGE": filter_range + 1})
    return _checked(best, "iCE40", in_hz, out_hz)


def ecp5_pll_params(in_hz, out_hz):
    """``EHXPLLL`` settings (CLKOP feedback) nearest to ``out_hz``.

    ``f_pfd = in/CLKI_DIV`` in [3.125, 400] MHz, ``out = f_pfd*CLKFB_DIV``,
    ``f_vco = out*CLKOP_DIV`` in [400, 800] MHz.
    """
    best = None
    for clki_div in range(1, 129):
        pfd = in_hz / clki_div
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if not 10e6 <= out <= 400e6:
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if 400e6 <= vco <= 800e6:
                    break
            else:
                continue
            if best is None or abs(out - out_hz) < abs(best.out_hz - out_hz):
                best = PLLParams(out, {"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div,
                                       "CLKOP_DIV": clkop_div})
    return _checked(best, "ECP5", in_hz, out_hz)


class ClockReset(Elaboratable):
    """Clock and reset of the ``sync`` domain at ``out_hz`` from the board's clock.

    The domain must be defined by an enclosing module; this one drives it.

    Parameters
    ----------
    family : {"ice40", "ecp5"}
    in_hz : float
        Oscillator frequency.
    out_hz : float
        Wanted frequency; equal to ``in_hz`` means no PLL.
    """

    def __init__(self, family, in_hz, out_hz):
        self.family = family
        self.in_hz = float(in_hz)
        self.pll = None
        if abs(out_hz - in_hz) > 1:
            search = ice40_pll_params if family == "ice40" else ecp5_pll_params
            self.pll = search(in_hz, out_hz)
        self.out_hz = self.pll.out_hz if self.pll else self.in_hz

    def elaborate(self, platform):
        m = Module()
        clk_port = platform.request(platform.default_clk, dir="-")
        clk_out = Signal()
        locked = Signal()
        if self.pll is not None and self.family == "ice40":
            # The iCE40 PLL sits behind the clock pad itself; no input buffer in between.
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=self.pll.params["DIVR"], p_DIVF=self.pll.params["DIVF"],
                p_DIVQ=self.pll.params["DIVQ"], p_FILTER_RANGE=self.pll.params["FILTER_RANGE"],
                i_PACKAGEPIN=clk_port.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk_out, o_LOCK=locked)
            return self._reset(m, platform, clk_out, locked)
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_port)
        if self.pll is None:
            m.d.comb += [clk_out.eq(clk_buf.i), locked.eq(1)]
        else:
            params = self.pll.params
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{self.in_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.out_hz / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKI_DIV=params["CLKI_DIV"], p_CLKFB_DIV=params["CLKFB_DIV"],
                p_CLKOP_DIV=params["CLKOP_DIV"], p_CLKOP_CPHASE=params["CLKOP_DIV"] - 1,
                p_CLKOP_FPHASE=0, p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
                i_CLKI=clk_buf.i, i_CLKFB=clk_out, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clk_out, o_LOCK=locked)

        return self._reset(m, platform, clk_out, locked)

    def _reset(self, m, platform, clk_out, locked):
        # nextpnr derives the PLL output's constraint from the board clock's.
        # Held in reset until locked and ~20 us more (iCE40 block RAMs read 0 for ~3 us).
        # The sync domain itself is defined by the design's top (PlatformTop).
        m.domains.por = ClockDomain(reset_less=True, local=True)
        delay = int(20e-6 * self.out_hz)
        timer = Signal(range(delay + 1))
        ready = Signal()
        m.d.comb += [ClockSignal("por").eq(clk_out), ClockSignal("sync").eq(clk_out)]
        with m.If(~locked):
            m.d.por += [timer.eq(0), ready.eq(0)]
        with m.Elif(timer == delay):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
        m.d.comb += ResetSignal("sync").eq(~ready)
        return m
