"""``mulfree train``: train a float, BinaryConnect or TernaryConnect network.

Writes the model (``--out``, default ``build/model.npz``) and next to it
``<stem>.history.json``, ``<stem>.curves.png`` and ``<stem>.weights.png``,
then prints the final accuracies and the activation sparsity.
"""

from pathlib import Path

from .errors import MulfreeError
from .network import NetworkConfig
from .train import TrainConfig, seeded_generators, train


def parse_arch(text):
    """``"64-128-128-10"`` -> ``(64, 128, 128, 10)``."""
    try:
        sizes = tuple(int(part) for part in text.split("-"))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise MulfreeError(f"--arch {text!r}: expected layer sizes joined by '-', "
                           "e.g. 64-128-128-10")
    return sizes


def parse_range(text):
    """``"-4,3"`` -> ``(-4, 3)``."""
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        low, high = 1, 0
    if low > high:
        raise MulfreeError(f"--qb-range {text!r}: expected K_MIN,K_MAX with K_MIN <= K_MAX")
    return low, high


def configure(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    data.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    data.add_argument("--max-train", type=int, default=None,
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
    net.add_argument("--theta", type=float, default=1.0, help="TRec/TLin threshold")
    net.add_argument("--no-batchnorm", action="store_true")
    net.add_argument("--float-bn-scale", action="store_true",
                     help="batch-norm scales not rounded to powers of two (inexact in hardware)")
    net.add_argument("--act-quant", choices=("none", "int", "pow2"), default="int",
                     help="activation quantization (default int)")
    net.add_argument("--act-bits", type=int, default=8, help="activation width B")
    net.add_argument("--act-frac", type=int, default=4, help="activation step 2**-F")
    net.add_argument("--act-emax", type=int, default=None, help="largest pow2 exponent")
    net.add_argument("--dropout", type=float, default=0.0)
    net.add_argument("--pretrain-epochs", type=int, default=0,
                     help="zero-bias autoencoder pre-training of the first layer")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=int, default=30)
    fit.add_argument("--batch-size", type=int, default=64)
    fit.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    fit.add_argument("--lr-start", type=float, default=None,
                     help="first epoch's learning rate (default: 0.003 for 25,000 updates, "
                          "times sqrt(25000 / updates), at most 0.03)")
    fit.add_argument("--lr-end", type=float, default=None,
                     help="last epoch's learning rate (default: the start / 100)")
    fit.add_argument("--loss", choices=("hinge", "xent"), default="hinge")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--bn-calibration", type=int, default=2048,
                     help="images for batch-norm statistics under the evaluation forward "
                          "(0: running averages of the training batches)")
    fit.add_argument("--threads", type=int, default=1, help="BLAS threads (0: library default)")
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
