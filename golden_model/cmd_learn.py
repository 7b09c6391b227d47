"""``mulfree learn``: run QTrain, the integer multiplier-free training step, on a dataset.

Writes the state (``--out``, default ``build/learn.qtrain.npz``) and next to it
``<stem>.history.json`` and ``<stem>.curves.png``; ``--export-qnet`` also
writes the deterministic QNet, which the inference hardware runs exactly.
The contract is ``docs/qtrain.md``; the defaults are tuned on the digits
validation split.
"""

from pathlib import Path

from .cli_args import integer, nonnegative_int, positive_int, seed
from .cmd_train import parse_arch
from .errors import MulfreeError
from .output_files import check_output_file

#: Defaults tuned on the digits validation split (64-64-10).
DEFAULTS = {"shift": "0,2", "eta": "2,4", "eta_bias": "4", "backward_shift": "4"}


def parse_per_layer(option, text, n_layers, lo, hi):
    """``"2,4"`` (one per layer) or ``"3"`` (every layer) -> tuple of ints in [lo, hi]."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * n_layers
    if len(values) != n_layers or any(not lo <= v <= hi for v in values):
        raise MulfreeError(f"{option} {text!r}: expected one integer in [{lo}, {hi}] or "
                           f"{n_layers} of them joined by ',' (one per layer)")
    return values


def configure(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    data.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    data.add_argument("--max-train", type=positive_int, default=None,
                      help="keep at most this many training images (quick runs)")
    net = parser.add_argument_group("network (fixed during learning)")
    net.add_argument("--arch", default=None,
                     help="layer sizes N_IN-H1-...-N_CLASSES (default N_IN-64-N_CLASSES)")
    net.add_argument("--weights", choices=("ternary", "binary"), default="ternary")
    net.add_argument("--shift", default=DEFAULTS["shift"],
                     help="requantization shift per layer, e.g. 1,2 (default %(default)s)")
    net.add_argument("--out-bits", type=integer(1, 32, "a bit width"), default=8,
                     help="hidden activation width")
    net.add_argument("--pow2", action="store_true", help="power-of-two hidden activations")
    net.add_argument("--e-max", type=nonnegative_int, default=7, help="largest pow2 exponent")
    net.add_argument("--init-qnet", default=None,
                     help="start from this QNet file (fine-tuning) instead of a random init")
    net.add_argument("--resume", default=None,
                     help="continue from this QTrain state file (its network and contract "
                          "parameters; the options here are ignored)")
    rule = parser.add_argument_group("QTrain contract parameters")
    rule.add_argument("--deterministic", action="store_true",
                      help="deterministic weight sampling and input rounding "
                           "(default stochastic)")
    rule.add_argument("--w0-log2", type=positive_int, default=10, help="W0 = 2**W0_LOG2")
    rule.add_argument("--bias-log2", type=positive_int, default=12, help="biases in [-2**B, 2**B]")
    rule.add_argument("--target", type=positive_int, default=64, help="squared-hinge target T")
    rule.add_argument("--delta-bits", type=positive_int, default=16, help="error width")
    rule.add_argument("--eta", default=DEFAULTS["eta"],
                      help="weight update shift per layer (default %(default)s)")
    rule.add_argument("--eta-bias", default=DEFAULTS["eta_bias"],
                      help="bias update shift per layer (default %(default)s)")
    rule.add_argument("--backward-shift", default=DEFAULTS["backward_shift"],
                      help="backward shift r_k per layer after the first (default %(default)s)")
    rule.add_argument("--decay-epochs", type=nonnegative_int, default=5,
                      help="update shifts grow by one every this many epochs (0: never)")
    run = parser.add_argument_group("run")
    run.add_argument("--epochs", type=nonnegative_int, default=20)
    run.add_argument("--seed", type=seed, default=0, help="seed of the random bits, init, order")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--out", default="build/learn.qtrain.npz", help="state file to write")
    parser.add_argument("--export-qnet", default=None,
                        help="also write the deterministic QNet (.qnet.npz) here")
    from boards.cmd_learn_board import configure as configure_board
    configure_board(parser)


def _output_paths(args):
    """Every file ``main`` writes, with the option that names it."""
    stem = Path(str(args.out).removesuffix(".npz").removesuffix(".qtrain"))
    paths = [(args.out, "--out"), (f"{stem}.history.json", "--out"),
             (f"{stem}.curves.png", "--out")]
    if args.export_qnet:
        paths.append((args.export_qnet, "--export-qnet"))
    return paths


def check_arguments(args):
    """Reject bad arguments and unusable output paths before any slow work."""
    if args.init_qnet and args.resume:
        raise MulfreeError("--init-qnet and --resume: expected at most one of them")
    if args.arch is not None:
        n = len(parse_arch(args.arch)) - 1
        parse_per_layer("--shift", args.shift, n, -31, 31)
        parse_per_layer("--eta", args.eta, n, 0, 16)
        parse_per_layer("--eta-bias", args.eta_bias, n, 0, 16)
        parse_per_layer("--backward-shift", args.backward_shift, max(1, n - 1), 0, 32)
    for path, option in _output_paths(args):
        check_output_file(path, option)
    from boards.cmd_learn_board import check_arguments as check_board_arguments
    check_board_arguments(args)


def build_state(args, dataset):
    """The initial state ``args`` ask for on ``dataset``."""
    from .qnet import QNet
    from .qtrain import QTrainConfig, QTrainError, init_state, state_from_qnet
    from .qtrain.state_file import load_state

    if args.resume:
        return load_state(args.resume)
    if args.init_qnet:
        qnet = QNet.load(args.init_qnet)
        sizes = [qnet.input.n_inputs] + [layer.n_out for layer in qnet.layers]
    elif args.arch is None:
        sizes = [dataset.n_inputs, 64, dataset.n_classes]
    else:
        sizes = list(parse_arch(args.arch))
    if sizes[0] != dataset.n_inputs or sizes[-1] != dataset.n_classes:
        raise MulfreeError(f"--arch {'-'.join(map(str, sizes))}: dataset {dataset.name!r} "
                           f"needs {dataset.n_inputs} inputs and {dataset.n_classes} outputs")
    n = len(sizes) - 1
    mode = "deterministic" if args.deterministic else "stochastic"
    backward = parse_per_layer("--backward-shift", args.backward_shift, max(1, n - 1), 0, 32)
    try:
        config = QTrainConfig(
            weight_mode=args.weights, sampling=mode, input_rounding=mode,
            w0_log2=args.w0_log2, bias_log2=args.bias_log2, target=args.target,
            delta_bits=args.delta_bits, eta=parse_per_layer("--eta", args.eta, n, 0, 16),
            eta_bias=parse_per_layer("--eta-bias", args.eta_bias, n, 0, 16),
            backward_shift=(0,) + backward[:n - 1], decay_epochs=args.decay_epochs,
            seed=args.seed)
        if args.init_qnet:
            return state_from_qnet(qnet, config)
        return init_state(sizes, dataset.input_bits, config,
                          shift=parse_per_layer("--shift", args.shift, n, -31, 31),
                          out_bits=args.out_bits, pow2=args.pow2, e_max=args.e_max,
                          dataset=dataset.name, image_shape=dataset.image_shape)
    except QTrainError as error:
        raise MulfreeError(f"QTrain parameters: {error}") from None


class _Bar:
    """A tqdm bar over one epoch's samples, showing the running loss and accuracy."""

    def __init__(self, epoch, total, epochs, quiet):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", unit="sample",
                        disable=quiet, leave=False, mininterval=0.5)
        self.count = self.loss = self.correct = 0

    def __call__(self, loss, hit):
        self.count += 1
        self.loss += loss
        self.correct += hit
        if self.count % 64 == 0:
            self.bar.set_postfix(loss=f"{self.loss / self.count:.1f}",
                                 acc=f"{self.correct / self.count:.3f}", refresh=False)
            self.bar.update(64)

    def close(self):
        self.bar.close()


def main(args):
    from tqdm import tqdm

    from .datasets import load_dataset
    from .plots import plot_history
    from .qtrain import accuracy, fit
    from .qtrain.state_file import save_state

    check_arguments(args)
    port = None
    if args.board is not None:
        from boards.cmd_learn_board import open_board
        port = open_board(args)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir, seed=args.seed,
                           max_train=args.max_train)
    state = build_state(args, dataset)
    source = args.resume or args.init_qnet
    n_classes = state.layers[-1].n_out
    if (state.input.n_inputs, n_classes) != (dataset.n_inputs, dataset.n_classes) \
            or state.input.bits < dataset.input_bits:
        raise MulfreeError(
            f"{source}: {state.input.n_inputs} inputs of {state.input.bits} bits and "
            f"{n_classes} classes; dataset {dataset.name!r} needs {dataset.n_inputs} inputs of "
            f"{dataset.input_bits} bits and {dataset.n_classes} classes")
    print(f"{dataset!r}")
    if port is not None:
        from boards.cmd_learn_board import main_on_board
        return main_on_board(args, port, state, dataset)
    first = state.epoch

    def report(history):
        if not args.quiet:
            tqdm.write(f"epoch {history.epoch[-1]:3d}  eta {state.eta(0)[0]:2d}  "
                       f"loss {history.train_loss[-1]:.1f}  train {history.train_acc[-1]:.4f}  "
                       f"val {history.val_acc[-1]:.4f}")

    history = fit(state, dataset, args.epochs, on_epoch=report,
                  progress_factory=lambda epoch, n: _Bar(epoch, n, first + args.epochs,
                                                         args.quiet))
    history.final["test_acc"] = accuracy(state, dataset.x_test, dataset.y_test)
    history.final["step"] = state.step
    out = Path(args.out)
    save_state(state, out)
    stem = Path(str(out).removesuffix(".npz").removesuffix(".qtrain"))
    history.save(f"{stem}.history.json")
    written = [str(out), f"{stem}.history.json"]
    if history.epoch:
        plot_history(history, f"{stem}.curves.png")
        written.append(f"{stem}.curves.png")
    if args.export_qnet:
        state.to_qnet().save(args.export_qnet)
        written.append(args.export_qnet)
    print(f"test accuracy {history.final['test_acc']:.4f} (deterministic weights, "
          f"after {state.epoch} epochs, {state.step} steps)")
    print("wrote " + ", ".join(written))
    return 0
