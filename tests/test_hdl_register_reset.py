import pytest

from boards.registry import get_board
from hdl.register_reset import data_registers_reset_less, family_of


@pytest.mark.parametrize("board, family, reset_less", [("ulx3s-85f", "ecp5", True),
                                                       ("icebreaker", "ice40", False)])
def test_choice_follows_the_board_platform(board, family, reset_less):
    platform = get_board(board).make_platform()
    assert family_of(platform) == family == get_board(board).family
    assert data_registers_reset_less(platform) is reset_less


def test_no_platform_keeps_the_resets():
    class Unnamed:
        family = property(lambda self: 3)

    assert family_of(None) is None and family_of(Unnamed()) is None
    assert not data_registers_reset_less(None)
    assert not data_registers_reset_less(object())
