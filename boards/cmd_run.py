"""``mulfree run``: stream a test set through a board and check every answer.

The images go as the QNet's input, one value per pixel and channel
(channels-last for a convolutional QNet, as ``mulfree sim`` feeds them).
A bitstream whose weights live in RAM/SPRAM is loaded first (when INFO says
it is not loaded, or with ``--reload``): the load map is rebuilt from the
QNet and the folding and weight stores INFO reports.

A protocol version 3 board gets the images in pipelined batches; a version 2
board one per request. The summary gives the end-to-end images/s measured
over the link and the engine's images/s from the board's cycle counts;
``--bench N`` then has the board replay the last batch N times (``BENCH``)
for the engine's rate on the board itself, its answers checked by checksum.
"""

from boards import protocol as p
from boards.registry import BOARDS, get_board
from golden_model.cli_args import integer, number, positive_int
from golden_model.errors import MulfreeError
from golden_model.qnet import QNet
from hdl.supported import check_supported, has_map_layers

#: Seconds to wait for one answer: finite, or a dead board would hang the run.
ANSWER_TIMEOUT = number(0, 3600, low_open=True, what="a finite number of seconds")
#: BENCH replays: the count is a u32 on the wire.
BENCH_REPLAYS = integer(1, 0xFFFFFFFF, what="a number of images")


def _hwc(shape):
    """An image shape as ``(H, W, C)`` (a grey ``(H, W)`` has one channel)."""
    shape = tuple(int(d) for d in shape)
    return shape + (1,) if len(shape) == 2 else shape


def configure(parser):
    parser.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1")
    parser.add_argument("--model", required=True, help="QNet file the bitstream was built from")
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. digits")
    parser.add_argument("--data-dir", default=None, help="where the dataset's files are")
    parser.add_argument("--board", default=None,
                        help=f"board, for its default baud rate ({', '.join(BOARDS)})")
    parser.add_argument("--baud", type=positive_int, default=None,
                        help="UART rate (default: the board's, else 3000000)")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="at most this many test images")
    parser.add_argument("--timeout", type=ANSWER_TIMEOUT, default=2.0,
                        help="seconds to wait for each answer (default: %(default)s)")
    parser.add_argument("--no-logits", action="store_true",
                        help="compare classes only (shorter answers)")
    parser.add_argument("--reload", action="store_true",
                        help="load the weights even if the board reports them loaded")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="images per request (default: the most the board takes; a "
                             "protocol version 2 board takes 1)")
    parser.add_argument("--bench", type=BENCH_REPLAYS, default=None, metavar="N",
                        help="then have the board replay the last batch N times at the "
                             "engine's rate (BENCH) and check the answers' checksum")


def main(args):
    from boards.host import BoardClient, bench_board, load_weights, open_port, run_test_set
    from golden_model.datasets.registry import load_dataset

    baud = args.baud or (get_board(args.board).baud if args.board else 3_000_000)
    qnet = QNet.load(args.model)
    check_supported(qnet, args.model, maps=True)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir, test_only=True)
    if dataset.n_inputs != qnet.input.n_inputs:
        raise MulfreeError(f"--dataset {args.dataset}: {dataset.n_inputs} inputs per image, "
                           f"but the model expects {qnet.input.n_inputs}")
    if has_map_layers(qnet) and _hwc(dataset.image_shape) != _hwc(qnet.input.image_shape):
        # A convolution reads the pixels as an image: the same count in another shape
        # would run without error and answer nonsense.
        raise MulfreeError(f"--dataset {args.dataset}: images of shape "
                           f"{_hwc(dataset.image_shape)} (height, width, channels), but the "
                           f"model's convolutions expect {_hwc(qnet.input.image_shape)}")
    images, labels = dataset.x_test, dataset.y_test
    if args.limit is not None:
        images, labels = images[:args.limit], labels[:args.limit]
    port = open_port(args.port, baud)
    try:
        client = BoardClient(port, timeout=args.timeout, name=args.port)
        from tqdm import tqdm
        info = client.attach(qnet)
        if info.needs_load and (args.reload or not info.loaded):
            load = load_weights(client, qnet, info, progress=lambda total: tqdm(
                total=total, desc="weights", unit="slice"))
            print(load.summary())
        elif args.reload:
            print("weights     built into the bitstream: nothing to load")
        if args.batch is not None or args.bench is not None:
            client.batch_size(args.batch)       # refuse a batch or BENCH before the run
            if args.bench is not None and info.version < p.BATCH_VERSION:
                client.bench(args.bench)        # names the board's version
        report = run_test_set(client, qnet, images, labels, logits=not args.no_logits,
                              progress=lambda it: tqdm(it, desc="board", unit="img"),
                              batch=args.batch, baud=baud)
        bench = bench_board(client, qnet, args.bench) if args.bench is not None else None
    finally:
        port.close()
    print(report.summary())
    if bench is not None:
        print(bench.summary())
    return 0 if not report.mismatches and (bench is None or bench.ok) else 1
