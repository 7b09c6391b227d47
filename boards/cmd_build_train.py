"""``mulfree build-train``: a QTrain state file to a training bitstream and report.

The state fixes the network and the QTrain parameters built into the trainer
(the learned values are loaded later by ``mulfree learn --board``), e.g.::

    mulfree learn --arch 64-16-10 --decay-epochs 0 --epochs 0 --out build/init.qtrain.npz
    mulfree build-train --state build/init.qtrain.npz --board ulx3s-85f --folding 4:8,2:4
    mulfree learn --resume build/init.qtrain.npz --board ulx3s-85f --port /dev/ttyUSB0 \\
        --epochs 5 --out build/board.qtrain.npz --export-qnet build/board.qnet.npz
"""

from pathlib import Path

from boards.build_bounds import BuildBounds
from boards.registry import BOARDS, get_board
from golden_model.cli_args import integer, number, positive_int
from golden_model.errors import MulfreeError
from golden_model.output_files import check_output_dir


def configure(parser):
    parser.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    parser.add_argument("--state", required=True,
                        help="QTrain state file (.qtrain.npz), e.g. from mulfree learn")
    parser.add_argument("--folding", required=True,
                        help="PE:SIMD per layer, e.g. 4:8,2:4 (PE divides the layer's "
                             "outputs, SIMD its inputs)")
    parser.add_argument("--spram", default="",
                        help="layers whose shadows go to SPRAM, e.g. 0 or 0,1 (iCE40 UP "
                             "boards; their update takes two cycles a tile)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: build/<board>-train)")
    parser.add_argument("--clock", type=number(1, 400, what="a clock frequency in MHz"),
                        default=None, metavar="MHZ", help="clock in MHz (default: the board's)")
    parser.add_argument("--baud", type=positive_int, default=None,
                        help="UART rate (default: the board's)")
    parser.add_argument("--seed", type=integer(0, 2**31 - 1, "a placement seed"),
                        default=None, help="nextpnr placement seed")
    parser.add_argument("--allow-timing-miss", action="store_true",
                        help="keep the bitstream when the clock is missed (the report gives "
                             "the achieved Fmax)")


def _spram_layers(text, board):
    """``--spram``: comma-separated layer indices, on a board with SPRAM."""
    if not text:
        return ()
    try:
        layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise MulfreeError(f"--spram {text!r}: expected layer indices, e.g. 0 or 0,1") from None
    if not board.capacity.spram:
        raise MulfreeError(f"--spram: {board.name} has no SPRAM (iCE40 UP boards have)")
    return layers


def main(args):
    from boards.train_build import build_training_bitstream
    from golden_model.qtrain.state_file import load_state
    from hdl.cmd_generate import parse_folding

    board = get_board(args.board)
    out = args.out or Path("build") / f"{board.name}-train"
    check_output_dir(out, "--out")
    folding = parse_folding(args.folding)
    if not isinstance(folding, list):
        raise MulfreeError(f"--folding {args.folding!r}: expected PE:SIMD per layer, "
                           "e.g. 4:8,2:4")
    spram = _spram_layers(args.spram, board)
    state = load_state(args.state)
    report = build_training_bitstream(state, folding, board, out, clock_mhz=args.clock,
                                      baud=args.baud, seed=args.seed, bounds=BuildBounds(),
                                      allow_timing_miss=args.allow_timing_miss, spram=spram)
    print(f"bitstream: {report['bitstream']}")
    return 0
