"""``mulfree build``: a QNet file to a bitstream and report for one board."""

from pathlib import Path

from boards import protocol as p
from boards.build_bounds import BuildBounds
from boards.place_progress import DEFAULT_PLACERS, PLACERS
from boards.registry import BOARDS, get_board
from golden_model.cli_args import integer, number, positive_int
from golden_model.errors import MulfreeError
from golden_model.output_files import check_output_dir
from golden_model.qnet import QNet
from hdl.layer_plan import MAX_IMAGES
from hdl.supported import check_supported


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
    parser.add_argument("--in-lanes", type=positive_int, default=1, metavar="N",
                        help="pixels the board top feeds the accelerator per beat, "
                             "ceil(pixels / N) beats an image (default: %(default)s); the "
                             "first layer needs SIMD >= N to keep up (--folding auto does)")
    parser.add_argument("--images", type=integer(1, MAX_IMAGES, "a number of images in flight"),
                        default=1, help="images in flight per layer (default: %(default)s)")
    parser.add_argument("--bench", action="store_true",
                        help="build the board's BENCH command, which replays images at the "
                             "engine's rate ('mulfree run --bench N'; protocol version 3); "
                             "about 700 more iCE40 LUTs, too many for a near-full UP5K design")
    parser.add_argument("--max-batch", type=integer(1, p.MAX_PAYLOAD, "a number of images"),
                        default=None, metavar="N",
                        help="images per INFER_BATCH request (default: the board's, 8; 1 "
                             "without --bench: the protocol version 2 top, one image per "
                             "request and no answer FIFO)")
    parser.add_argument("--seed", type=integer(0, 2**31 - 1, "a placement seed"),
                        default=None, help="nextpnr placement seed")
    parser.add_argument("--placer", nargs="+", choices=PLACERS, default=list(DEFAULT_PLACERS),
                        metavar="NAME",
                        help=f"nextpnr placers ({', '.join(PLACERS)}) tried in turn at a seed "
                             f"when placement stalls (default: {' '.join(DEFAULT_PLACERS)})")
    bounds = BuildBounds()
    seconds = number(0, 7 * 24 * 3600, low_open=True, what="a finite number of seconds")
    parser.add_argument("--synth-timeout", type=seconds, default=bounds.synth_s, metavar="S",
                        help="bound on synthesis, seconds")
    parser.add_argument("--pnr-timeout", type=seconds, default=bounds.pnr_s, metavar="S",
                        help="bound on each place-and-route attempt, seconds")
    parser.add_argument("--route-stall", type=seconds, default=bounds.route_stall_s,
                        metavar="S", help="routing with no progress for this long is stopped "
                                          "and the next router (router2) or seed tried")
    parser.add_argument("--place-stall", type=seconds, default=bounds.place_stall_s,
                        metavar="S", help="placement with no progress line for this long is "
                                          "stopped and the next placer or seed tried")


def check_outputs(args, board):
    """Refuse an unusable output folder before synthesis starts."""
    check_output_dir(args.out or Path("build") / board.name, "--out")


def main(args):
    from boards.build import build_bitstream
    from hdl.cmd_generate import check_auto_folding_options, parse_folding, parse_weight_store

    board = get_board(args.board)
    bounds = BuildBounds(synth_s=args.synth_timeout, pnr_s=args.pnr_timeout,
                         route_stall_s=args.route_stall, place_stall_s=args.place_stall)
    check_outputs(args, board)
    if args.clock is not None and not 1 <= args.clock <= 400:
        raise MulfreeError(f"--clock: expected a frequency in MHz between 1 and 400, "
                           f"got {args.clock}")
    check_auto_folding_options(args)
    qnet = QNet.load(args.model)
    check_supported(qnet, args.model, maps=True)
    if args.max_batch is not None:
        from boards.build import check_max_batch
        check_max_batch(qnet, args.max_batch)
    from boards.build import check_in_lanes
    check_in_lanes(qnet, args.in_lanes)
    report = build_bitstream(qnet, board, args.out, clock_mhz=args.clock, baud=args.baud,
                             folding=parse_folding(args.folding),
                             weight_store=parse_weight_store(args.weight_store, allow_auto=True),
                             lut_budget=args.lut_budget, seed=args.seed,
                             bounds=bounds, bench=args.bench, images=args.images,
                             max_batch=args.max_batch, in_lanes=args.in_lanes,
                             placers=args.placer)
    print(f"bitstream: {report['bitstream']}")
    return 0
