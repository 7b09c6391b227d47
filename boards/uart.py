"""A small 8N1 UART: receiver and transmitter as byte streams.

amaranth-stdio is not on PyPI, so the board top carries its own UART. Both
halves count ``divisor`` clock cycles per bit (``divisor = f_clk / baud``,
rounded); at 12 MHz and 1 Mbaud the bit time is 12 cycles, so the rounding
error stays below 4 %, well inside what 8N1 framing tolerates over ten bits.

Members
-------
UARTReceiver
    Serial line in, a stream of bytes out.
UARTTransmitter
    A stream of bytes in, serial line out.
uart_divisor
    Clock cycles per bit for a clock and baud rate, checked.
"""

import operator

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden_model.errors import MulfreeError


class BaudRateError(MulfreeError):
    """The requested baud rate cannot be made from the clock."""


def uart_divisor(clk_hz, baud):
    """Clock cycles per bit, rounded, with its rate error checked.

    Parameters
    ----------
    clk_hz : float
        Clock frequency of the UART.
    baud : int
        Bit rate.

    Returns
    -------
    int
        ``round(clk_hz / baud)``, at least 4 (the receiver samples mid-bit).

    Raises
    ------
    BaudRateError
        If the divisor is below 4 or the rate error exceeds 2 %.
    """
    if baud <= 0:
        raise BaudRateError(f"--baud: expected a positive bit rate, got {baud}")
    divisor = round(clk_hz / baud)
    if divisor < 4:
        raise BaudRateError(
            f"--baud: {baud} is too fast for a {clk_hz / 1e6:g} MHz clock "
            f"(expected at most {int(clk_hz // 4)})")
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise BaudRateError(
            f"--baud: {baud} differs by {error:.1%} from what a {clk_hz / 1e6:g} MHz clock "
            f"can make ({clk_hz / divisor:.0f}); expected a rate within 2 %")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 receiver.

    A falling edge starts a byte; each bit is sampled in the middle of its bit
    time, and the byte is offered on ``o`` after a valid stop bit. A byte that
    the consumer does not take before the next one completes is overwritten
    (the board top is always ready). A missing stop bit drops the byte and
    pulses ``framing_error``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (see :func:`uart_divisor`).

    Members
    -------
    rx : In(1)
        The serial line (idle high); synchronised inside.
    o : Out(stream.Signature(8))
        Received bytes.
    framing_error : Out(1)
        One-cycle pulse when a stop bit was low.
    """

    def __init__(self, divisor):
        self._divisor = operator.index(divisor)
        if self._divisor < 4:
            raise ValueError(f"divisor must be at least 4, not {divisor}")
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(8)),
            "framing_error": Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    def __repr__(self):
        return f"UARTReceiver(divisor={self._divisor})"

    def elaborate(self, platform):
        m = Module()
        # Two flops against metastability; the line idles high.
        rx_meta = Signal(init=1)
        rx_sync = Signal(init=1)
        m.d.sync += [rx_meta.eq(self.rx), rx_sync.eq(rx_meta)]

        timer = Signal(range(self._divisor + self._divisor // 2 + 1))
        bit_index = Signal(range(8))
        shift = Signal(8)

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += self.framing_error.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx_sync):
                    # Wait half a bit to the middle of the start bit, then whole bits.
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(rx_sync):
                        m.next = "IDLE"  # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self._divisor - 1), bit_index.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    # LSB first: each bit enters at the top and moves down.
                    m.d.sync += [shift.eq(Cat(shift[1:], rx_sync)),
                                 timer.eq(self._divisor - 1),
                                 bit_index.eq(bit_index + 1)]
                    with m.If(bit_index == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx_sync):
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                        m.next = "BREAK"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("BREAK"):
                # A low stop bit: wait for the line to return high before hunting again.
                with m.If(rx_sync):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (see :func:`uart_divisor`).

    Members
    -------
    i : In(stream.Signature(8))
        Bytes to send; one is taken whenever the line is free.
    tx : Out(1)
        The serial line (idle high).
    busy : Out(1)
        High while a byte is on the line.
    """

    def __init__(self, divisor):
        self._divisor = operator.index(divisor)
        if self._divisor < 1:
            raise ValueError(f"divisor must be positive, not {divisor}")
        super().__init__({
            "i": In(stream.Signature(8)),
            "tx": Out(1, init=1),
            "busy": Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    def __repr__(self):
        return f"UARTTransmitter(divisor={self._divisor})"

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        # Start bit, eight data bits LSB first, stop bit; shifted out from the bottom.
        frame = Signal(10, init=0x3FF)
        bits_left = Signal(range(11))

        m.d.comb += [self.tx.eq(frame[0]), self.busy.eq(bits_left != 0)]
        m.d.comb += self.i.ready.eq(bits_left == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)),
                         bits_left.eq(10), timer.eq(self._divisor - 1)]
        with m.Elif(bits_left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), bits_left.eq(bits_left - 1),
                             timer.eq(self._divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


def line_idle_timer(m, got, timeout_cycles):
    """A flag set after ``timeout_cycles`` cycles without ``got`` (a received byte).

    The flag is registered: it equals ``idle == timeout`` (the count stops
    there), decided one compare earlier. Returns the flag.
    """
    idle = Signal(range(timeout_cycles + 1))
    timed_out = Signal()
    with m.If(got):
        m.d.sync += [idle.eq(0), timed_out.eq(0)]
    with m.Elif(~timed_out):
        m.d.sync += [idle.eq(idle + 1), timed_out.eq(idle == timeout_cycles - 1)]
    return timed_out
