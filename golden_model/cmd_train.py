"""``mulfree train``: train a float, BinaryConnect or TernaryConnect network.

Writes the model (``--out``, default ``build/model.npz``) and next to it
``<stem>.history.json``, ``<stem>.curves.png`` and ``<stem>.weights.png``,
then prints the final accuracies and the activation sparsity.
"""

import math
from pathlib import Path

from .cli_args import integer, nonnegative_int, number, positive_int, seed
from .errors import MulfreeError
from .network import NetworkConfig
from .qnet import MAX_E_MAX
from .train import TrainConfig, seeded_generators, train

#: Most units one layer of ``--arch`` may have.
MAX_LAYER_UNITS = 65536
#: Most weights ``--arch`` may ask for: training keeps several float copies of
#: each (shadow weights, gradients, optimizer state), 256 MB per copy here.
MAX_ARCH_WEIGHTS = 1 << 25
#: Largest exponent magnitude of ``--qb-range``.
MAX_QB_EXPONENT = 31


def parse_arch(text):
    """``"64-128-128-10"`` -> ``(64, 128, 128, 10)``."""
    try:
        sizes = tuple(int(part) for part in text.split("-"))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise MulfreeError(f"--arch {text!r}: expected layer sizes joined by '-', "
                           "e.g. 64-128-128-10")
    if max(sizes) > MAX_LAYER_UNITS:
        raise MulfreeError(f"--arch {text!r}: a layer of {max(sizes):,} units; expected "
                           f"at most {MAX_LAYER_UNITS:,} per layer")
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if weights > MAX_ARCH_WEIGHTS:
        raise MulfreeError(f"--arch {text!r}: {weights:,} weights; expected at most "
                           f"{MAX_ARCH_WEIGHTS:,} in total (they must fit in memory)")
    return sizes


def parse_range(text):
    """``"-4,3"`` -> ``(-4, 3)``."""
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        low, high = 1, 0
    if low > high or max(abs(low), abs(high)) > MAX_QB_EXPONENT:
        raise MulfreeError(f"--qb-range {text!r}: expected K_MIN,K_MAX with K_MIN <= K_MAX, "
                           f"both in -{MAX_QB_EXPONENT}..{MAX_QB_EXPONENT}")
    return low, high


learning_rate = number(0, low_open=True, what="a finite learning rate")


def configure(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    data.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    data.add_argument("--max-train", type=positive_int, default=None,
                      help="keep at most this many training images (quick runs)")
    net = parser.add_argument_group("network")
    net.add_argument("--arch", default=None,
                     help="layer sizes N_IN-H1-...-N_CLASSES (default N_IN-128-128-N_CLASSES)")
    net.add_argument("--weights", choices=("float", "binary", "ternary"), default="ternary")
    net.add_argument("--deterministic", action="store_true",
                     help="deterministic weight quantization in training (default stochastic)")
    net.add_argument("--qb", action="store_true", help="quantized back-propagation")
    net.add_argument("--qb-deterministic", action="store_true",
                     help="round QB inputs to the nearest power of two (default stochastic)")
    net.add_argument("--qb-range", default="-4,3", help="QB exponent range K_MIN,K_MAX")
    net.add_argument("--activation", choices=("relu", "trec", "tlin", "linear"), default="relu")
    net.add_argument("--theta", type=number(0, what="a finite threshold"), default=1.0,
                     help="TRec/TLin threshold")
    net.add_argument("--no-batchnorm", action="store_true")
    net.add_argument("--float-bn-scale", action="store_true",
                     help="batch-norm scales not rounded to powers of two (inexact in hardware)")
    net.add_argument("--act-quant", choices=("none", "int", "pow2"), default="int",
                     help="activation quantization (default int)")
    net.add_argument("--act-bits", type=integer(1, 32, "a bit width"), default=8,
                     help="activation width B")
    net.add_argument("--act-frac", type=integer(-31, 31, "a number of fraction bits"),
                     default=4, help="activation step 2**-F")
    net.add_argument("--act-emax", type=nonnegative_int, default=None, help="largest pow2 exponent")
    net.add_argument("--dropout", type=number(0, 1, high_open=True, what="a probability"),
                     default=0.0)
    net.add_argument("--pretrain-epochs", type=nonnegative_int, default=0,
                     help="zero-bias autoencoder pre-training of the first layer")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=positive_int, default=30)
    fit.add_argument("--batch-size", type=positive_int, default=64)
    fit.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    fit.add_argument("--lr-start", type=learning_rate, default=0.003)
    fit.add_argument("--lr-end", type=learning_rate, default=0.00003)
    fit.add_argument("--loss", choices=("hinge", "xent"), default="hinge")
    fit.add_argument("--seed", type=seed, default=0)
    fit.add_argument("--bn-calibration", type=nonnegative_int, default=2048,
                     help="images for batch-norm statistics under the evaluation forward "
                          "(0: running averages of the training batches)")
    fit.add_argument("--threads", type=integer(0, 1024, "a thread count"), default=1,
                     help="BLAS threads (0: library default)")
    fit.add_argument("--shadow-eval", action="store_true",
                     help="also report validation accuracy of the float shadow weights")
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--out", default="build/model.npz", help="model file to write")


def check_arguments(args):
    """Reject bad arguments before any (slow) dataset loading."""
    if args.arch is not None:
        parse_arch(args.arch)
    parse_range(args.qb_range)
    if args.epochs < 1:
        raise MulfreeError(f"--epochs {args.epochs}: expected at least 1")
    if args.batch_size < 1:
        raise MulfreeError(f"--batch-size {args.batch_size}: expected at least 1")
    if not 1 <= args.act_bits <= 32:
        raise MulfreeError(f"--act-bits {args.act_bits}: expected 1..32")
    if not 0.0 <= args.dropout < 1.0:
        raise MulfreeError(f"--dropout {args.dropout}: expected 0 <= p < 1")
    # Ranges that depend on other options (argparse checked each value alone).
    check_activation_options(args)
    check_arch_fits_dataset(args)


def check_activation_options(args):
    """``--act-bits``, ``--act-emax`` and ``--theta`` against each other and the activation."""
    if args.act_quant == "none":
        return
    signed = args.activation in ("tlin", "linear")
    if signed and args.act_bits < 2:
        raise MulfreeError(f"--act-bits {args.act_bits}: expected 2..32 for signed "
                           f"--activation {args.activation}")
    if args.act_quant == "pow2" and args.act_emax is not None:
        # The largest code of B bits (B - 1 magnitude bits when signed) is below 2**high+1.
        high = min(MAX_E_MAX, args.act_bits - (2 if signed else 1))
        if not 0 <= args.act_emax <= high:
            raise MulfreeError(f"--act-emax {args.act_emax}: expected 0..{high} with "
                               f"--act-bits {args.act_bits} ({args.activation})")
    step = 2.0 ** -args.act_frac
    if args.activation in ("trec", "tlin") and args.theta / step != round(args.theta / step):
        raise MulfreeError(f"--theta {args.theta:g}: expected a multiple of the activation "
                           f"step 2**-{args.act_frac} = {step:g} (--act-frac)")


def check_arch_fits_dataset(args):
    """``--arch``'s first and last sizes against the dataset's, before it is loaded."""
    from .datasets.registry import DATASETS

    info = DATASETS.get(args.dataset)
    if args.arch is None or info is None:
        return  # an unknown name is reported by the loader, with the known ones
    sizes = parse_arch(args.arch)
    n_inputs, n_classes = math.prod(info.image_shape), len(info.class_names)
    if sizes[0] != n_inputs or sizes[-1] != n_classes:
        raise MulfreeError(f"--arch {args.arch}: dataset {args.dataset!r} needs {n_inputs} "
                           f"inputs and {n_classes} outputs")


def network_config(args, dataset):
    """The :class:`NetworkConfig` that ``args`` ask for on ``dataset``."""
    check_arguments(args)
    if args.arch is None:
        sizes = (dataset.n_inputs, 128, 128, dataset.n_classes)
    else:
        sizes = parse_arch(args.arch)
        if sizes[0] != dataset.n_inputs or sizes[-1] != dataset.n_classes:
            raise MulfreeError(
                f"--arch {args.arch}: dataset {dataset.name!r} needs {dataset.n_inputs} "
                f"inputs and {dataset.n_classes} outputs")
    return NetworkConfig(
        sizes=sizes, input_bits=dataset.input_bits, weight_mode=args.weights,
        stochastic=not args.deterministic, quantized_backprop=args.qb,
        qb_stochastic=not args.qb_deterministic, qb_range=parse_range(args.qb_range),
        activation=args.activation, theta=args.theta, batchnorm=not args.no_batchnorm,
        shift_based=not args.float_bn_scale,
        act_quant=None if args.act_quant == "none" else args.act_quant,
        act_bits=args.act_bits, act_frac_bits=args.act_frac, act_e_max=args.act_emax,
        dropout=args.dropout)


def main(args):
    import numpy as np

    from .autoencoder import pretrain_first_layer
    from .datasets import load_dataset
    from .model_io import save_model
    from .network import build_network
    from .plots import plot_history, plot_weight_histograms
    from .sparsity import activation_sparsity

    check_arguments(args)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir, seed=args.seed,
                           max_train=args.max_train)
    config = network_config(args, dataset)
    train_config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
        lr_start=args.lr_start, lr_end=args.lr_end, loss=args.loss, seed=args.seed,
        shadow_eval=args.shadow_eval, quiet=args.quiet, threads=args.threads or None,
        bn_calibration=args.bn_calibration)
    init_rng, _ = seeded_generators(args.seed)
    network = build_network(config, np.asarray(dataset.x_train, np.float64).mean(axis=0),
                            init_rng)
    print(f"{dataset!r}")
    print(f"{network!r}")
    if args.pretrain_epochs > 0:
        kind = args.activation if args.activation in ("trec", "tlin") else "trec"
        result = pretrain_first_layer(network, dataset.x_train, kind, args.theta,
                                      epochs=args.pretrain_epochs, seed=args.seed)
        print(f"autoencoder ({kind}) reconstruction error: {result.errors[0]:.5f} -> "
              f"{result.reconstruction_error:.5f}")
    history = train(network, dataset, train_config)
    test_acc = network.accuracy(dataset.x_test, dataset.y_test)
    history.final["test_acc"] = test_acc
    history.final["test_acc_shadow"] = network.accuracy(dataset.x_test, dataset.y_test,
                                                        shadow=True)
    sparsity = activation_sparsity(network, dataset.x_test)
    history.final["sparsity"] = sparsity

    out = Path(args.out)
    save_model(out, network, train_config=train_config.to_dict(),
               dataset=dataset.input_spec if hasattr(dataset, "input_spec") else dataset.name,
               final=history.final)
    stem = out.with_suffix("")
    history.save(f"{stem}.history.json")
    plot_history(history, f"{stem}.curves.png")
    plot_weight_histograms(network, f"{stem}.weights.png")
    print(f"best validation accuracy {history.best_val_acc:.4f} (epoch {history.best_epoch + 1})")
    print(f"test accuracy {test_acc:.4f} (quantized weights), "
          f"{history.final['test_acc_shadow']:.4f} (float shadow weights)")
    print("activation sparsity (fraction of zeros) per hidden layer: "
          + ", ".join(f"{s:.3f}" for s in sparsity))
    print(f"wrote {out}, {stem}.history.json, {stem}.curves.png, {stem}.weights.png")
    return 0
