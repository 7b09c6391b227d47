"""``mulfree train``: train a float, BinaryConnect or TernaryConnect network.

Writes the model (``--out``, default ``build/model.npz``) and next to it
``<stem>.history.json``, ``<stem>.curves.png`` and ``<stem>.weights.png``,
then prints the final accuracies and the activation sparsity.
"""

import math
from pathlib import Path

from .architecture import is_conv_architecture, layer_shapes, parse_architecture
from .cli_args import integer, nonnegative_int, number, positive_int, seed
from .errors import MulfreeError
from .network import NetworkConfig
from .output_files import check_output_file
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
    """``"64-128-128-10"`` -> ``(64, 128, 128, 10)``; a convolutional string (see
    ``golden_model.architecture``) -> its layer specs."""
    if is_conv_architecture(text):
        return parse_architecture(text)
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
    data.add_argument("--dataset", default="digits", help="dataset name")
    data.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    data.add_argument("--max-train", type=positive_int, default=None,
                      help="keep at most this many training images (quick runs)")
    net = parser.add_argument_group("network")
    net.add_argument("--arch", default=None,
                     help="layer sizes N_IN-H1-...-N_CLASSES (default N_IN-128-128-N_CLASSES), "
                          "or a CNN: c<F>k<K>[s<S>][v] convolution, p<K> max pool, <N> dense, "
                          "e.g. c16k3-p2-c32k3-p2-128-10")
    net.add_argument("--weights", choices=("float", "binary", "ternary"), default="ternary",
                     help="weight quantization; 'float' is the full-precision baseline: "
                          "float activations and float batch-norm scales too (--act-quant "
                          "int|pow2 still quantizes the activations)")
    sampling = net.add_mutually_exclusive_group()
    sampling.add_argument("--stochastic", dest="stochastic", action="store_true",
                          help="sample the binary/ternary weights in training (BinaryConnect's "
                               "stochastic form; it needs many more updates to converge)")
    sampling.add_argument("--deterministic", dest="stochastic", action="store_false",
                          help="deterministic weight quantization in training")
    net.add_argument("--qb", action="store_true", help="quantized back-propagation")
    net.add_argument("--qb-deterministic", action="store_true",
                     help="round QB inputs to the nearest power of two (default stochastic)")
    net.add_argument("--qb-range", default="-4,3", help="QB exponent range K_MIN,K_MAX")
    net.add_argument("--activation", choices=("relu", "trec", "tlin", "linear"), default="relu",
                     help="hidden-layer activation")
    net.add_argument("--theta", type=number(0, what="a finite threshold"), default=None,
                     help="TRec/TLin threshold (default: 0.5 with batch norm, half a standard "
                          "deviation of the normalised pre-activation; one activation step "
                          "2**-ACT_FRAC without, as unnormalised pre-activations can be far "
                          "smaller than 1)")
    net.add_argument("--no-batchnorm", action="store_true",
                     help="no batch norm: each layer has a bias instead")
    net.add_argument("--float-bn-scale", action="store_true",
                     help="batch-norm scales not rounded to powers of two (inexact in hardware)")
    net.add_argument("--alpha-pow2", action="store_true",
                     help="round each layer's weight scale to a power of two, so that a layer "
                          "without batch norm quantizes exactly (its scale is otherwise "
                          "rounded to a shift in the QNet, which changed 2-4 %% of the classes "
                          "on digits and mnist5k); not needed with batch norm, whose "
                          "power-of-two scale absorbs the weight scale")
    net.add_argument("--act-quant", choices=("none", "int", "pow2"), default=None,
                     help="activation quantization (default: int; none with --weights float)")
    net.add_argument("--act-bits", type=integer(1, 32, "a bit width"), default=8,
                     help="activation width B")
    net.add_argument("--act-frac", type=integer(-31, 31, "a number of fraction bits"),
                     default=4, help="activation step 2**-F")
    net.add_argument("--act-emax", type=nonnegative_int, default=None,
                     help="largest pow2 exponent (default B-1 after relu/trec, B-2 after "
                          "tlin/linear)")
    net.add_argument("--dropout", type=number(0, 1, high_open=True, what="a probability"),
                     default=0.0, help="dropout probability after each hidden layer")
    net.add_argument("--pretrain-epochs", type=nonnegative_int, default=0,
                     help="zero-bias autoencoder pre-training of the first layer")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=positive_int, default=30, help="training epochs")
    fit.add_argument("--batch-size", type=positive_int, default=64, help="images per mini-batch")
    fit.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="optimizer")
    fit.add_argument("--lr-start", type=learning_rate, default=None,
                     help="first update's learning rate (default: 0.003 * sqrt(25000 / updates), "
                          "at most 25 / updates and 0.03: 0.001 for 25,000 updates)")
    fit.add_argument("--lr-end", type=learning_rate, default=None,
                     help="last update's learning rate (default: the start / 100; exponential "
                          "decay, update by update)")
    fit.add_argument("--loss", choices=("hinge", "xent"), default="hinge",
                     help="squared hinge or softmax cross-entropy")
    fit.add_argument("--seed", type=seed, default=0,
                     help="seeds initialisation, shuffling, sampling and the validation split")
    fit.add_argument("--bn-calibration", type=nonnegative_int, default=2048,
                     help="images for batch-norm statistics under the evaluation forward "
                          "(0: running averages of the training batches)")
    fit.add_argument("--threads", type=integer(0, 1024, "a thread count"), default=1,
                     help="BLAS threads (0: library default)")
    fit.add_argument("--shadow-eval", action="store_true",
                     help="also report validation accuracy of the float shadow weights")
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.add_argument("--allow-dead", action="store_true",
                     help="write the model even if a hidden layer is dead (every unit 0 on "
                          "every validation image); by default that is an error")
    parser.add_argument("--out", default="build/model.npz", help="model file to write")


def check_arguments(args):
    """Reject bad arguments before any (slow) dataset loading."""
    if args.arch is not None:
        parse_arch(args.arch)
        if args.pretrain_epochs > 0 and is_conv_architecture(args.arch):
            raise MulfreeError(f"--pretrain-epochs {args.pretrain_epochs}: the autoencoder "
                               f"pre-trains a dense first layer; --arch {args.arch} starts "
                               "with a convolution (expected --pretrain-epochs 0)")
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
    theta = (default_theta(not args.no_batchnorm, args.act_frac) if args.theta is None
             else args.theta)
    if args.activation in ("trec", "tlin") and theta / step != round(theta / step):
        what = "--theta" if args.theta is not None else "the default --theta"
        raise MulfreeError(f"{what} {theta:g}: expected a multiple of the activation "
                           f"step 2**-{args.act_frac} = {step:g} (--act-frac)")


def check_arch_fits_dataset(args):
    """``--arch``'s first and last sizes against the dataset's, before it is loaded."""
    from .datasets.registry import DATASETS

    info = DATASETS.get(args.dataset)
    if args.arch is None or info is None:
        return  # an unknown name is reported by the loader, with the known ones
    sizes = parse_arch(args.arch)
    if is_conv_architecture(args.arch):
        check_conv_arch(args.arch, sizes, info.image_shape, len(info.class_names),
                        repr(args.dataset))
        return
    n_inputs, n_classes = math.prod(info.image_shape), len(info.class_names)
    if sizes[0] != n_inputs or sizes[-1] != n_classes:
        raise MulfreeError(f"--arch {args.arch}: dataset {args.dataset!r} needs {n_inputs} "
                           f"inputs and {n_classes} outputs")


def check_conv_arch(text, specs, image_shape, n_classes, dataset):
    """A convolutional ``--arch`` against the images and classes of ``dataset``."""
    shapes, weights = layer_shapes(specs, image_shape, f"--arch {text}")
    if specs[-1].units != n_classes:
        raise MulfreeError(f"--arch {text}: dataset {dataset} has {n_classes} classes; "
                           f"expected the last layer to have {n_classes} units, "
                           f"not {specs[-1].units}")
    if max(math.prod(s) for s in shapes) > MAX_LAYER_UNITS:
        raise MulfreeError(f"--arch {text}: a layer of {max(math.prod(s) for s in shapes):,} "
                           f"values per image; expected at most {MAX_LAYER_UNITS:,}")
    if weights > MAX_ARCH_WEIGHTS:
        raise MulfreeError(f"--arch {text}: {weights:,} weights; expected at most "
                           f"{MAX_ARCH_WEIGHTS:,} in total (they must fit in memory)")


def default_theta(batchnorm, act_frac):
    """The TRec/TLin threshold used when ``--theta`` is not given.

    Batch norm starts each pre-activation at standard deviation 1: 0.5 keeps
    about 30 % of the TRec units on (and trained better than 1 on digits and
    mnist5k). Without batch norm the pre-activations have no fixed scale
    (about 0.01 on digits at initialisation) and a threshold of 1 switches
    every unit off for good: one activation step ``2**-act_frac``, the
    smallest threshold on the grid. Always a multiple of that step, as
    :class:`~golden_model.activations.Activation` requires.
    """
    step = 2.0 ** -act_frac
    return max(0.5, step) if batchnorm else step


def network_config(args, dataset):
    """The :class:`NetworkConfig` that ``args`` ask for on ``dataset``.

    Where ``args`` leave a choice open (None) it is made here, so that the
    saved config states every setting: ``--weights float`` means float
    activations and batch-norm scales, ``--theta`` comes from
    :func:`default_theta`.
    """
    check_arguments(args)
    arch, image_shape = "", ()
    if args.arch is None:
        sizes = (dataset.n_inputs, 128, 128, dataset.n_classes)
    elif is_conv_architecture(args.arch):
        specs = parse_arch(args.arch)
        check_conv_arch(args.arch, specs, dataset.image_shape, dataset.n_classes,
                        repr(dataset.name))
        arch, image_shape = args.arch, tuple(dataset.image_shape)
        sizes = (dataset.n_inputs, *(s.units for s in specs if hasattr(s, "units")))
    else:
        sizes = parse_arch(args.arch)
        if sizes[0] != dataset.n_inputs or sizes[-1] != dataset.n_classes:
            raise MulfreeError(
                f"--arch {args.arch}: dataset {dataset.name!r} needs {dataset.n_inputs} "
                f"inputs and {dataset.n_classes} outputs")
    full_precision = args.weights == "float"
    act_quant = args.act_quant or ("none" if full_precision else "int")
    theta = (default_theta(not args.no_batchnorm, args.act_frac) if args.theta is None
             else args.theta)
    return NetworkConfig(
        sizes=sizes, input_bits=dataset.input_bits, weight_mode=args.weights,
        stochastic=args.stochastic, quantized_backprop=args.qb,
        qb_stochastic=not args.qb_deterministic, qb_range=parse_range(args.qb_range),
        activation=args.activation, theta=theta, batchnorm=not args.no_batchnorm,
        shift_based=not (args.float_bn_scale or full_precision),
        act_quant=None if act_quant == "none" else act_quant,
        act_bits=args.act_bits, act_frac_bits=args.act_frac, act_e_max=args.act_emax,
        dropout=args.dropout, alpha_pow2=args.alpha_pow2, arch=arch, image_shape=image_shape)


def output_paths(out):
    """The files ``mulfree train --out OUT`` writes: the model, history and two plots."""
    out = Path(out)
    stem = out.with_suffix("")
    return [out, Path(f"{stem}.history.json"), Path(f"{stem}.curves.png"),
            Path(f"{stem}.weights.png")]


def check_outputs(args):
    """Refuse unusable output paths before the dataset is loaded and training starts."""
    for path in output_paths(args.out):
        check_output_file(path, "--out")


def main(args):
    import numpy as np

    from .autoencoder import pretrain_first_layer
    from .datasets import load_dataset
    from .dead_units import CHECK_IMAGES, DeadNetworkError, dead_layers, describe_dead
    from .model_io import save_model
    from .network import build_network
    from .plots import plot_history, plot_weight_histograms
    from .sparsity import activation_sparsity

    check_outputs(args)
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
        result = pretrain_first_layer(network, dataset.x_train, kind, config.theta,
                                      epochs=args.pretrain_epochs, seed=args.seed)
        print(f"autoencoder ({kind}) reconstruction error: {result.errors[0]:.5f} -> "
              f"{result.reconstruction_error:.5f}")
    history = train(network, dataset, train_config)
    dead = dead_layers(network, dataset.x_val[:CHECK_IMAGES])
    if dead and not args.allow_dead:
        raise DeadNetworkError(f"{describe_dead(network, dead)}; nothing written "
                               f"(--allow-dead writes {args.out} anyway)")
    test_acc = network.accuracy(dataset.x_test, dataset.y_test)
    history.final["test_acc"] = test_acc
    history.final["test_acc_shadow"] = network.accuracy(dataset.x_test, dataset.y_test,
                                                        shadow=True)
    sparsity = activation_sparsity(network, dataset.x_test)
    history.final["sparsity"] = sparsity

    out, history_path, curves_path, weights_path = output_paths(args.out)
    stem = out.with_suffix("")
    save_model(out, network, train_config=train_config.to_dict(),
               dataset=dataset.input_spec if hasattr(dataset, "input_spec") else dataset.name,
               final=history.final)
    history.save(history_path)
    plot_history(history, curves_path)
    plot_weight_histograms(network, weights_path)
    print(f"best validation accuracy {history.best_val_acc:.4f} (epoch {history.best_epoch + 1})")
    print(f"test accuracy {test_acc:.4f} (quantized weights), "
          f"{history.final['test_acc_shadow']:.4f} (float shadow weights)")
    print("activation sparsity (fraction of zeros) per hidden layer: "
          + ", ".join(f"{s:.3f}" for s in sparsity))
    print(f"wrote {out}, {stem}.history.json, {stem}.curves.png, {stem}.weights.png")
    return 0
