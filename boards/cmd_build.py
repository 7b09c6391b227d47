"""``mulfree build``: a QNet file to a bitstream and report for one board."""

from boards.registry import BOARDS, get_board
from golden_model.cli_args import integer, number, positive_int
from golden_model.errors import MulfreeError
from golden_model.qnet import QNet


def configure(parser):
    parser.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    parser.add_argument("--model", required=True, help="QNet file (.qnet.npz)")
    parser.add_argument("--out", default=None, help="output directory (default: build/<board>)")
    parser.add_argument("--clock", type=number(1, 400, what="a clock frequency in MHz"),
                        default=None, metavar="MHZ",
                        help="accelerator clock in MHz (default: the board's; iCE40 30, "
                             "ECP5 100)")
    parser.add_argument("--baud", type=positive_int, default=None,
                        help="UART rate (default: the board's bridge's reliable maximum)")
    parser.add_argument("--folding", default="none",
                        help="'none' (PE=SIMD=1), 'auto', or PE:SIMD per layer, e.g. 4:8,2:4")
    parser.add_argument("--weight-store", default="auto",
                        help="'auto' (block RAM when the weights fit, else the largest layers "
                             "in SPRAM, loaded over the UART by 'mulfree run'), or one of "
                             "rom/ram/spram per layer, e.g. spram,spram,rom")
    parser.add_argument("--lut-budget", type=positive_int, default=None,
                        help="with --folding auto: LUT estimate not to exceed")
    parser.add_argument("--seed", type=integer(0, 2**31 - 1, "a placement seed"),
                        default=None, help="nextpnr placement seed")


def main(args):
    from boards.build import build_bitstream
    from hdl.cmd_generate import check_auto_folding_options, parse_folding, parse_weight_store

    board = get_board(args.board)
    if args.clock is not None and not 1 <= args.clock <= 400:
        raise MulfreeError(f"--clock: expected a frequency in MHz between 1 and 400, "
                           f"got {args.clock}")
    check_auto_folding_options(args)
    qnet = QNet.load(args.model)
    report = build_bitstream(qnet, board, args.out, clock_mhz=args.clock, baud=args.baud,
                             folding=parse_folding(args.folding),
                             weight_store=parse_weight_store(args.weight_store, allow_auto=True),
                             lut_budget=args.lut_budget, seed=args.seed)
    print(f"bitstream: {report['bitstream']}")
    return 0
