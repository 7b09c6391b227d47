"""Every board's top elaborates: UART and LED pins, PLL, constraints (no place-and-route)."""

import pytest
from boards_qnets import make_qnet
from boards_table_accel import TableAccelerator

from boards.platform_top import PlatformTop
from boards.registry import BOARDS, get_board

#: (board, UART rx pin, UART tx pin) as the constraint files must name them.
UART_PINS = {"icebreaker": ("6", "9"), "icesugar": ("4", "6"), "ulx3s-85f": ("M1", "L4"),
             "orangecrab-25f": ("N17", "M18")}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_top_prepares_with_uart_leds_and_clock(name):
    board = get_board(name)
    qnet = make_qnet(sizes=(3, 4, 3), in_bits=2)
    top = PlatformTop(board, qnet, board.target_hz, board.baud,
                      accelerator=TableAccelerator(qnet))
    assert top.clock_hz == board.target_hz
    assert top.divisor == round(board.target_hz / board.baud)
    files = dict(board.make_platform().prepare(top, name="mulfree").files)
    constraints = files["mulfree.pcf" if board.family == "ice40" else "mulfree.lpf"]
    if isinstance(constraints, bytes):
        constraints = constraints.decode()
    rtlil = files["mulfree.il"]
    rtlil = rtlil.decode() if isinstance(rtlil, bytes) else rtlil
    assert ("SB_PLL40_PAD" if board.family == "ice40" else "EHXPLLL") in rtlil
    if name in UART_PINS:
        rx, tx = UART_PINS[name]
        if board.family == "ice40":
            assert f"set_io uart_0__rx__io {rx}" in constraints
            assert f"set_io uart_0__tx__io {tx}" in constraints
        else:
            assert f'LOCATE COMP "uart_0__rx__io" SITE "{rx}"' in constraints
            assert f'LOCATE COMP "uart_0__tx__io" SITE "{tx}"' in constraints
    # every LED the registry lists is driven
    assert constraints.count("led") >= len(board.leds)


def test_bench_is_opt_in():
    """BENCH costs about 700 iCE40 LUTs: the UP5K 784-256-256-10 design does not place with it."""
    board = get_board("icebreaker")
    qnet = make_qnet(sizes=(3, 4, 3), in_bits=2)
    with_bench = PlatformTop(board, qnet, board.target_hz, board.baud,
                             accelerator=TableAccelerator(qnet), bench=True)
    without = PlatformTop(board, qnet, board.target_hz, board.baud,
                          accelerator=TableAccelerator(qnet))
    assert (with_bench.engine.info.version, with_bench.engine.info.max_batch) == (3, 1)
    assert without.engine.info.version == 2
