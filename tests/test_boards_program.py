import pytest

from boards.cmd_program import ProgramError, program_command
from boards.registry import get_board


def test_first_installed_programmer_wins():
    board = get_board("icebreaker")
    assert program_command(board, "b.bin", which=lambda tool: tool == "iceprog") == [
        "iceprog", "b.bin"]
    assert program_command(board, "b.bin", which=lambda tool: tool == "openFPGALoader") == [
        "openFPGALoader", "-b", "ice40_generic", "b.bin"]
    assert program_command(get_board("orangecrab-85f"), "x.bit",
                           which=lambda tool: tool == "dfu-util") == ["dfu-util", "-D", "x.bit"]


def test_missing_programmer_says_what_to_install():
    with pytest.raises(ProgramError, match="ulx3s-85f: no programming tool found; install "
                                           "openFPGALoader"):
        program_command(get_board("ulx3s-85f"), "x.bit", which=lambda tool: None)
