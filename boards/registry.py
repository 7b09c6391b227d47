"""The boards mulfree builds for, over amaranth-boards.

Each :class:`Board` names its amaranth-boards platform and adds what a build
needs beyond it: the device's capacity (for the pre-check and the report),
the clock the accelerator is built for by default, the UART and its
default baud rate, the LEDs, and how a bitstream is programmed.

Members
-------
Board
    One entry.
BOARDS
    Every board by name.
get_board
    Look a board up by name, with a clear error.
DEVICES
    Capacity of each FPGA device.
"""

import importlib
from dataclasses import dataclass, field

from golden_model.errors import MulfreeError


class BoardError(MulfreeError):
    """An unknown board or an option the board cannot honour."""


@dataclass(frozen=True)
class Device:
    """What one FPGA offers.

    Parameters
    ----------
    family : {"ice40", "ecp5"}
    lut : int
        Four-input LUTs (iCE40 logic cells; ECP5 ``TRELLIS_COMB``).
    ff : int
        Flip-flops.
    bram : int
        Block RAMs (iCE40 4-kbit EBR, ECP5 18-kbit DP16KD).
    bram_bits : int
        Bits in one block RAM.
    spram : int
        iCE40 UP 256-kbit single-port RAMs (0 elsewhere).
    dsp : int
        Hard multipliers (``SB_MAC16`` / ``MULT18X18D``); mulfree uses none.
    """

    family: str
    lut: int
    ff: int
    bram: int
    bram_bits: int
    spram: int
    dsp: int


# Figures as nextpnr counts them for each device.
DEVICES = {
    "iCE40UP5K": Device("ice40", lut=5280, ff=5280, bram=30, bram_bits=4096, spram=4, dsp=8),
    "LFE5U-12F": Device("ecp5", lut=24288, ff=24288, bram=56, bram_bits=18432, spram=0, dsp=28),
    "LFE5U-25F": Device("ecp5", lut=24288, ff=24288, bram=56, bram_bits=18432, spram=0, dsp=28),
    "LFE5U-45F": Device("ecp5", lut=43848, ff=43848, bram=108, bram_bits=18432, spram=0,
                        dsp=72),
    "LFE5U-85F": Device("ecp5", lut=83640, ff=83640, bram=208, bram_bits=18432, spram=0,
                        dsp=156),
}


@dataclass(frozen=True)
class Programmer:
    """A tool that loads a bitstream onto a board.

    ``args`` is the command line with ``{bitstream}`` standing for the file.
    """

    tool: str
    args: tuple
    install: str


@dataclass(frozen=True)
class Board:
    """One board mulfree can build for.

    Parameters
    ----------
    name : str
        Registry name (``icebreaker``, ``ulx3s-85f``, …).
    platform : str
        ``module:Class`` of the amaranth-boards platform.
    device : str
        Key into :data:`DEVICES`.
    clock_hz : float
        Frequency of the board's oscillator.
    target_hz : float
        Default accelerator clock (made by a PLL when it differs from
        ``clock_hz``).
    baud : int
        Default UART rate: as fast as the board's USB-serial bridge reliably
        runs.
    uart_note : str
        Where the UART is on the board.
    baud_note : str
        Why ``baud`` is the default (what limits it).
    max_batch : int
        Default images per ``INFER_BATCH`` of a bitstream (``mulfree build
        --max-batch``). 1 (the default): the version 2 top, one image per
        request, the smallest. With 8, a 784-pixel stream gets 99.9 % of the
        link's pipelined bound; the board top then takes two image slots and
        an answer FIFO (about 3 more iCE40 block RAMs for 784 pixels, 1 for
        64) and about 770 iCE40 LUTs more, so batches are opt-in.
    leds : tuple of str
        LED resource names, first for activity, the rest for the last class.
    programmers : tuple of Programmer
        Tried in order by ``mulfree program``.
    bitstream_ext : str
        ``bin`` (iCE40) or ``bit`` (ECP5).
    extra_resources : tuple
        amaranth ``Resource`` objects added to the platform (for a UART on
        a header where the board has none).
    """

    name: str
    platform: str
    device: str
    clock_hz: float
    target_hz: float
    baud: int
    uart_note: str
    leds: tuple
    programmers: tuple
    bitstream_ext: str
    extra_resources: tuple = field(default=())
    baud_note: str = ""
    max_batch: int = 1

    @property
    def capacity(self):
        """The :class:`Device` of this board."""
        return DEVICES[self.device]

    @property
    def family(self):
        return self.capacity.family

    def make_platform(self):
        """A fresh amaranth-boards platform object with the extra resources added."""
        module_name, class_name = self.platform.split(":")
        platform = getattr(importlib.import_module(module_name), class_name)()
        if self.extra_resources:
            platform.add_resources(list(self.extra_resources))
        return platform


_ICEPROG = Programmer("iceprog", ("iceprog", "{bitstream}"),
                      "install iceprog (Debian/Ubuntu: apt install fpga-icestorm) "
                      "or openFPGALoader")
_ICESPROG = Programmer("icesprog", ("icesprog", "{bitstream}"),
                       "install icesprog from the iCESugar repository (wuxx/icesugar)")


def _ofl(board):
    return Programmer("openFPGALoader", ("openFPGALoader", "-b", board, "{bitstream}"),
                      "install openFPGALoader (Debian/Ubuntu: apt install openfpgaloader)")


_DFU = Programmer("dfu-util", ("dfu-util", "-D", "{bitstream}"),
                  "install dfu-util (Debian/Ubuntu: apt install dfu-util) and hold the "
                  "button while plugging the board in to enter its DFU bootloader")


def _orangecrab_uart():
    # The OrangeCrab's USB goes straight to the FPGA (no serial bridge), so the
    # UART sits on the Feather header pins 0 (RX) and 1 (TX) for a USB-serial cable.
    from amaranth.build import Attrs
    from amaranth_boards.resources import UARTResource
    return (UARTResource(0, rx="0", tx="1", conn=("io", 0), attrs=Attrs(IO_TYPE="LVCMOS33")),)


# The UART has no flow control, so a default must be a rate the bridge makes
# exactly and the gateware samples with margin (8 or more clocks per bit).
_FT2232H_BAUD = (
    "the FT2232H makes 12 Mbaud / n exactly; 3 Mbaud is 10 clocks per bit at 30 MHz (12 at "
    "36 MHz), while the next rates, 4 and 6 Mbaud, need 7.5 and 5 clocks per bit at 30 MHz: "
    "a 6.7 % rate error or a mid-bit sample within a clock of the bit's edge")
_FT231X_BAUD = (
    "3 Mbaud is the FT231X's highest rate (48 MHz / 16); at 100 MHz it is 33 clocks per "
    "bit, 1 % off")


def _make_boards():
    ice40_leds = ("led_g", "led_r")
    boards = [
        Board("icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform", "iCE40UP5K",
              clock_hz=12e6, target_hz=30e6, baud=3_000_000,
              uart_note="FT2232H channel B (the second /dev/ttyUSB of the board)",
              leds=ice40_leds, programmers=(_ICEPROG, _ofl("ice40_generic")),
              bitstream_ext="bin", baud_note=_FT2232H_BAUD),
        Board("icesugar", "amaranth_boards.icesugar:ICESugarPlatform", "iCE40UP5K",
              clock_hz=12e6, target_hz=30e6, baud=115_200,
              uart_note="iCELink USB CDC serial port",
              leds=("led_g", "led_r", "led_b"), programmers=(_ICESPROG, _ofl("ice40_generic")),
              bitstream_ext="bin"),
    ]
    for size in ("12f", "25f", "45f", "85f"):
        boards.append(Board(
            f"ulx3s-{size}", f"amaranth_boards.ulx3s:ULX3S_{size.upper()}_Platform",
            f"LFE5U-{size.upper()}", clock_hz=25e6, target_hz=100e6, baud=3_000_000,
            uart_note="FT231X USB serial port",
            leds=tuple(f"led:{k}" for k in range(8)),
            programmers=(_ofl("ulx3s"),), bitstream_ext="bit", baud_note=_FT231X_BAUD))
    for size in ("25f", "85f"):
        boards.append(Board(
            f"orangecrab-{size}",
            f"amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_{size.upper()}Platform",
            f"LFE5U-{size.upper()}", clock_hz=48e6, target_hz=100e6, baud=115_200,
            uart_note="Feather header pins 0 (RX) and 1 (TX), through a 3.3 V USB-serial cable",
            leds=("rgb_led.g", "rgb_led.r", "rgb_led.b"),
            programmers=(_DFU, _ofl("orangecrab")), bitstream_ext="bit",
            extra_resources=_orangecrab_uart()))
    return {board.name: board for board in boards}


#: Every supported board by name.
BOARDS = _make_boards()


def get_board(name):
    """The :class:`Board` called ``name``.

    Raises
    ------
    BoardError
        Naming the known boards when ``name`` is not one.
    """
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(
            f"--board: unknown board {name!r}; expected one of {', '.join(BOARDS)}") from None
