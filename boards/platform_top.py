"""The top of a board build: pins, clock and reset around :class:`BoardTop`.

Members
-------
PlatformTop
    Requests the board's UART and LEDs, makes the clock, instantiates the engine.
"""

from amaranth import ClockDomain, Elaboratable, Module

from boards.board_top import BoardTop
from boards.pll import ClockReset
from boards.uart import uart_divisor

#: Seconds of line silence after which the board drops an open request. USB-serial
#: bridges deliver bytes in USB packets with gaps of a few milliseconds.
REQUEST_TIMEOUT_S = 0.05


class PlatformTop(Elaboratable):
    """Everything that goes into one bitstream.

    Parameters
    ----------
    board : boards.registry.Board
    qnet : QNet
    target_hz : float
        Wanted accelerator clock (the PLL's nearest is used; see ``clock_hz``).
    baud : int
    accelerator : wiring.Component, optional
        Defaults to the ``hdl`` Accelerator with ``folding``.
    folding : optional
    bench : bool
        Build the board top's ``BENCH`` (see :class:`boards.board_top.BoardTop`).
    max_batch : int
        Images per ``INFER_BATCH`` (1 without ``bench``: the version 2 top).
    """

    def __init__(self, board, qnet, target_hz, baud, accelerator=None, folding=None,
                 bench=False, max_batch=1):
        self._clock_and_uart(board, target_hz, baud)
        self.engine = BoardTop(
            qnet, divisor=self.divisor, clock_hz=round(self.clock_hz),
            timeout_cycles=self.timeout_cycles,
            accelerator=accelerator, folding=folding, n_leds=len(board.leds), bench=bench,
            max_batch=max_batch)

    def _clock_and_uart(self, board, target_hz, baud):
        """The clock, the UART divisor and the request timeout; a subclass then sets
        ``engine`` (any component with ``rx``, ``tx`` and ``leds``)."""
        self.board = board
        self.clock = ClockReset(board.family, board.clock_hz, target_hz)
        self.clock_hz = self.clock.out_hz
        self.baud = int(baud)
        self.divisor = uart_divisor(self.clock_hz, self.baud)
        self.timeout_cycles = int(REQUEST_TIMEOUT_S * self.clock_hz)

    @staticmethod
    def _request_led(platform, spec, requested):
        # "led:3" -> led #3; "rgb_led.g" -> subsignal g of rgb_led #0; "led_g" -> led_g #0.
        name, _, field = spec.partition(".")
        name, _, number = name.partition(":")
        key = (name, int(number or 0))
        if key not in requested:  # a resource is requested once, then its subsignals shared
            requested[key] = platform.request(*key)
        return getattr(requested[key], field) if field else requested[key]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.clock = self.clock
        m.submodules.engine = engine = self.engine
        uart = platform.request("uart", 0)
        m.d.comb += [engine.rx.eq(uart.rx.i), uart.tx.o.eq(engine.tx)]
        requested = {}
        for k, spec in enumerate(self.board.leds):
            led = self._request_led(platform, spec, requested)
            m.d.comb += led.o.eq(engine.leds[k])
        return m
