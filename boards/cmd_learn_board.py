"""``mulfree learn --board BOARD --port PORT``: QTrain on a training bitstream.

The options of ``mulfree learn`` choose the initial state and the dataset as
for a run on this CPU; the state is loaded into the board, the dataset
streamed for ``--epochs`` epochs, and after every epoch the board's whole
state is read back and compared with the golden model bit for bit, and the
validation accuracy measured on the board (EVAL, every class checked against
the golden model's); the test accuracy likewise after the last epoch. The
learned state (``--out``) and its QNet (``--export-qnet``) are written from
the board's read-back state, which the inference bitstream then runs.
"""

from golden_model.cli_args import number, positive_int
from golden_model.errors import MulfreeError

#: Seconds to wait for one answer: finite, or a dead board would hang the run.
ANSWER_TIMEOUT = number(0, 3600, low_open=True, what="a finite number of seconds")


def configure(parser):
    """The board options of ``mulfree learn``."""
    from boards.registry import BOARDS

    group = parser.add_argument_group("training on a board (a training bitstream)")
    group.add_argument("--board", default=None,
                       help=f"train on this board over --port ({', '.join(BOARDS)})")
    group.add_argument("--port", default=None, help="serial device, e.g. /dev/ttyUSB1")
    group.add_argument("--baud", type=positive_int, default=None,
                       help="UART rate (default: the board's)")
    group.add_argument("--timeout", type=ANSWER_TIMEOUT, default=2.0,
                       help="seconds to wait for each answer (default: %(default)s)")


def check_arguments(args):
    """``--port`` and ``--board`` go together; the board must be known."""
    from boards.registry import get_board

    if (args.board is None) != (args.port is None):
        raise MulfreeError("--board and --port: expected both (train on a board) or neither")
    if args.board is not None:
        get_board(args.board)


def open_board(args):
    """The serial port of ``args`` (checked before the dataset is loaded)."""
    from boards.host import open_port
    from boards.registry import get_board

    return open_port(args.port, args.baud or get_board(args.board).baud)


def learn_on_board(args, port, state, dataset, quiet=False):
    """Train ``state`` in place on the board behind ``port``; returns the report."""
    from tqdm import tqdm

    from boards.train_host import TrainClient, train_on_board

    client = TrainClient(port, timeout=args.timeout, name=args.port)

    def report(progress):
        epoch = state.epoch
        val = f"  board val {progress.val_acc[-1]:.4f}" if progress.val_acc else ""
        print(f"epoch {epoch:3d}  board train {progress.train_acc[-1]:.4f}{val}  state and "
              f"classes equal to the golden model ({state.step} steps)")

    return train_on_board(
        client, state, dataset.x_train, dataset.y_train, args.epochs,
        x_val=dataset.x_val, y_val=dataset.y_val, x_test=dataset.x_test,
        y_test=dataset.y_test, on_epoch=report,
        progress=None if quiet else (lambda it: tqdm(it, desc="board", unit="sample",
                                                     leave=False, mininterval=0.5)))


def main_on_board(args, port, state, dataset):
    """The board half of ``mulfree learn``: train, then write the state and its QNet."""
    from pathlib import Path

    from golden_model.qtrain.state_file import save_state

    try:
        result = learn_on_board(args, port, state, dataset, quiet=args.quiet)
    finally:
        port.close()
    out = Path(args.out)
    save_state(result.state, out)
    written = [str(out)]
    if args.export_qnet:
        result.state.to_qnet().save(args.export_qnet)
        written.append(args.export_qnet)
    print(f"board test accuracy {result.test_acc:.4f} (EVAL, equal to the golden model's "
          f"classes, after {result.state.epoch} epochs, {result.state.step} steps)")
    print(f"board: {result.samples} samples in {result.seconds:.1f} s "
          f"({result.samples_per_second:.0f} samples/s over the serial link), "
          f"{result.resent} requests sent again")
    print("wrote " + ", ".join(written))
    return 0
