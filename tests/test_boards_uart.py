import pytest
from amaranth import Module
from amaranth.sim import Simulator

from boards.uart import BaudRateError, UARTReceiver, UARTTransmitter, uart_divisor


def test_divisor_rounds_and_checks_the_error():
    assert uart_divisor(12e6, 1_000_000) == 12
    assert uart_divisor(30e6, 1_000_000) == 30
    assert uart_divisor(25e6, 115_200) == 217            # 0.03 % off
    with pytest.raises(BaudRateError, match="too fast"):
        uart_divisor(12e6, 4_000_000)
    with pytest.raises(BaudRateError, match="differs by"):
        uart_divisor(12e6, 2_500_000)                    # 12/5 = 2.4 MBd: 4 % off
    with pytest.raises(BaudRateError, match="positive"):
        uart_divisor(12e6, 0)


@pytest.mark.parametrize("divisor, sent", [(4, list(range(256))), (7, [0x00, 0xFF, 0x55, 0xAA,
                                                                           0x01, 0x80, 0xA5])])
def test_loopback(divisor, sent):
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    received = []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def producer(ctx):
        for value in sent:
            ctx.set(tx.i.payload, value)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
        ctx.set(tx.i.valid, 0)

    async def consumer(ctx):
        ctx.set(rx.o.ready, 1)
        while len(received) < len(sent):
            await ctx.tick()
            if ctx.get(rx.o.valid):
                received.append(ctx.get(rx.o.payload))
                assert not ctx.get(rx.framing_error)

    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * (divisor * 10 + 4) * (len(sent) + 4))
    assert received == sent


def test_missing_stop_bit_is_a_framing_error_and_the_receiver_recovers():
    divisor = 4
    rx = UARTReceiver(divisor)
    bytes_out, errors = [], []
    sim = Simulator(rx)
    sim.add_clock(1e-6)

    async def line(ctx):
        ctx.set(rx.o.ready, 1)
        # 0x55 with a low stop bit, a long low break, then a good 0xA5.
        for bit in [0, 1, 0, 1, 0, 1, 0, 1, 0, 0] + [0] * 6 + [1, 1]:
            ctx.set(rx.rx, bit)
            for _ in range(divisor):
                await ctx.tick()
                errors.append(ctx.get(rx.framing_error))
                if ctx.get(rx.o.valid):
                    bytes_out.append(ctx.get(rx.o.payload))
        for bit in [0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1]:
            ctx.set(rx.rx, bit)
            for _ in range(divisor):
                await ctx.tick()
                if ctx.get(rx.o.valid) and ctx.get(rx.o.ready):
                    bytes_out.append(ctx.get(rx.o.payload))

    sim.add_testbench(line)
    sim.run()
    assert sum(errors) == 1
    assert bytes_out[-1:] == [0xA5] and len(set(bytes_out)) == 1
