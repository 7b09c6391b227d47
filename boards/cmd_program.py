"""``mulfree program``: load a built bitstream onto a board."""

import shutil
import subprocess
from pathlib import Path

from boards.registry import BOARDS, get_board
from golden_model.errors import MulfreeError


class ProgramError(MulfreeError):
    """No bitstream, no programming tool, or the tool failed."""


def configure(parser):
    parser.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    parser.add_argument("--bitstream", default=None,
                        help="bitstream file (default: build/<board>/mulfree.<bin|bit>)")


def program_command(board, bitstream, which=shutil.which):
    """The command line that programs ``bitstream`` onto ``board``.

    The board's programmers are tried in order; the first one installed wins.

    Raises
    ------
    ProgramError
        Naming what to install when none is.
    """
    for programmer in board.programmers:
        if which(programmer.tool):
            return [arg.format(bitstream=bitstream) for arg in programmer.args]
    hints = "; or ".join(programmer.install for programmer in board.programmers)
    raise ProgramError(f"{board.name}: no programming tool found; {hints}")


def main(args):
    board = get_board(args.board)
    bitstream = Path(args.bitstream or Path("build") / board.name /
                     f"mulfree.{board.bitstream_ext}")
    if not bitstream.is_file():
        raise ProgramError(f"--bitstream: {bitstream} does not exist; build it first with "
                           f"'mulfree build --board {board.name} --model MODEL'")
    command = program_command(board, str(bitstream))
    print(" ".join(command))
    result = subprocess.run(command)
    if result.returncode != 0:
        raise ProgramError(f"{command[0]} failed (exit {result.returncode}); is the "
                           f"{board.name} plugged in and accessible to this user?")
    return 0
