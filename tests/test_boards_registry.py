import pytest

from boards.registry import BOARDS, DEVICES, BoardError, get_board


def test_every_board_makes_its_platform_with_uart_and_leds():
    for board in BOARDS.values():
        platform = board.make_platform()
        assert platform.device == board.device
        assert platform.default_clk_frequency == board.clock_hz
        assert ("uart", 0) in platform.resources
        for spec in board.leds:
            name = spec.partition(".")[0].partition(":")[0]
            number = int(spec.partition(".")[0].partition(":")[2] or 0)
            assert (name, number) in platform.resources, (board.name, spec)


def test_required_boards_are_there():
    assert {"icebreaker", "icesugar", "ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f",
            "orangecrab-25f", "orangecrab-85f"} <= set(BOARDS)


def test_capacities_follow_the_device():
    up5k = get_board("icebreaker").capacity
    assert (up5k.lut, up5k.bram, up5k.bram_bits, up5k.spram, up5k.dsp) == (5280, 30, 4096, 4, 8)
    assert get_board("ulx3s-85f").capacity is DEVICES["LFE5U-85F"]
    assert get_board("ulx3s-85f").family == "ecp5"
    assert get_board("icesugar").bitstream_ext == "bin"
    assert get_board("orangecrab-85f").bitstream_ext == "bit"


def test_unknown_board_names_the_choices():
    with pytest.raises(BoardError, match="--board: unknown board 'icebreaker2'.*icebreaker"):
        get_board("icebreaker2")


def test_default_baud_rates_are_sampled_with_margin_at_the_default_clock():
    from boards.uart import uart_divisor

    for board in BOARDS.values():
        assert uart_divisor(board.target_hz, board.baud) >= 8, board.name
    assert get_board("icebreaker").baud == get_board("ulx3s-85f").baud == 3_000_000
    assert uart_divisor(30e6, 3_000_000) == 10 and uart_divisor(100e6, 3_000_000) == 33
    assert "FT2232H" in get_board("icebreaker").baud_note
    assert "FT231X" in get_board("ulx3s-12f").baud_note
