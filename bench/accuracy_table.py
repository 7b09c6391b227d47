"""Test error of full precision, BinaryConnect and TernaryConnect, with and without QB.

The table of the seed talk: one row per dataset, one column per training
method, the same architecture and budget in every column, mean ± std of the
test error (%) over several seeds. Test error is measured with the
deterministic quantized weights, i.e. what the hardware runs. Full
precision has float batch-norm scales (as ``mulfree train --weights float``),
the quantized columns power-of-two ones. Training
quantizes the weights deterministically too (the default; ``--stochastic``
samples them as BinaryConnect's stochastic form). Each cell also
gives the stability of the runs: the longest stretch of consecutive epochs
whose training loss rose (worst seed), e.g. ``rise 1``. Each quantized column
is then quantized to a QNet (``mulfree quantize``, an 8-bit activation grid
calibrated on training images when training had none): a second line gives
the QNet's test accuracy minus the float model's (percentage points, the
largest magnitude over the seeds) and the share of test images whose class
differs.

    python bench/accuracy_table.py                      # digits, mnist5k, fashion-mnist
    python bench/accuracy_table.py --datasets digits --seeds 5 --epochs 40
    python bench/accuracy_table.py --act-quant int      # with 8-bit activations as well

Datasets that are not available (no files) are skipped with a note.

    python bench/accuracy_table.py --cnn mnist5k fashion-mnist   # CNN rows as well

CNN rows (``CNN_BUDGETS``): the same columns with a small convolutional
network and 8-bit activations; each quantized column also gives the share of
test images on which its QNet's class differs from the float model's.
"""

import argparse
import time

import numpy as np

from golden_model.agreement import measure_agreement
from golden_model.datasets import load_dataset
from golden_model.errors import DatasetError
from golden_model.network import NetworkConfig
from golden_model.quantize import quantize
from golden_model.train import TrainConfig, learning_rates, train_model

COLUMNS = {
    "full precision": dict(weight_mode="float"),
    "BinaryConnect": dict(weight_mode="binary"),
    "BC + QB": dict(weight_mode="binary", quantized_backprop=True),
    "TernaryConnect + QB": dict(weight_mode="ternary", quantized_backprop=True),
}
#: Short names of the columns, for ``--cnn-columns``.
COLUMN_KEYS = dict(zip(("fp", "bc", "bc-qb", "tc-qb"), COLUMNS, strict=True))

#: dataset -> (hidden sizes, epochs, max training images or None); whole training sets,
#: at budgets where full precision has converged, all at the default learning rates
#: (which follow the number of updates: digits ~20 per epoch, fashion-mnist ~840).
BUDGETS = {
    "digits": ((128, 128), 30, None),
    "mnist5k": ((256, 256), 20, None),
    "mnist": ((256, 256), 30, None),
    "fashion-mnist": ((256, 256), 30, None),
}


def run(name, args):
    hidden, epochs, max_train = BUDGETS[name]
    epochs = args.epochs or epochs
    max_train = args.max_train or max_train
    errors = {column: [] for column in COLUMNS}
    rises = {column: [] for column in COLUMNS}
    agreements = {column: [] for column in COLUMNS}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        ds = load_dataset(name, data_dir=args.data_dir, seed=seed, max_train=max_train)
        for column, options in COLUMNS.items():
            config = NetworkConfig(sizes=(ds.n_inputs, *hidden, ds.n_classes),
                                   act_quant=None if args.act_quant == "none" else args.act_quant,
                                   stochastic=args.stochastic,
                                   # full precision as train --weights float: float BN scales
                                   shift_based=options["weight_mode"] != "float", **options)
            train_config = TrainConfig(epochs=epochs, seed=seed, quiet=True,
                                       threads=args.threads or None)
            network, history = train_model(ds, config, train_config)
            errors[column].append(100 * (1 - history.final["test_acc"]))
            rises[column].append(history.longest_loss_rise)
            if options["weight_mode"] != "float":
                agreements[column].append(
                    measure_agreement(network, quantize(network, ds), ds.x_test, ds.y_test))
            if args.verbose:
                print(f"  {name} seed {seed} {column}: test error "
                      f"{errors[column][-1]:.2f} %, best epoch {history.best_epoch + 1}, "
                      f"longest loss rise {rises[column][-1]}, "
                      + (f"QNet - float {100 * agreements[column][-1].accuracy_gap:+.2f} pp, "
                         if agreements[column] else "") + "train loss "
                      + " ".join(f"{v:.3f}" for v in history.train_loss), flush=True)
    arch = "-".join(map(str, (ds.n_inputs, *hidden, ds.n_classes)))
    rates = learning_rates(train_config, len(ds.y_train))
    setup = (f"{arch}, {epochs} epochs, lr {rates[0]:.2g}->{rates[1]:.2g}, "
             f"{len(ds.y_train)} train / {len(ds.y_test)} test")
    return errors, rises, agreements, setup


#: dataset -> (architecture, epochs, max training images or None, (lr_start, lr_end)).
CNN_BUDGETS = {
    "digits": ("c16k3-p2-c32k3-p2-64-10", 30, None, (0.01, 0.0003)),
    "mnist5k": ("c16k3-p2-c32k3-p2-128-10", 15, None, (0.003, 0.00003)),
    "fashion-mnist": ("c16k3-p2-c32k3-p2-128-10", 12, None, (0.003, 0.00003)),
    "cifar10": ("c32k3-p2-c64k3-p2-c128k3-p2-256-10", 20, None, (0.003, 0.00003)),
    "svhn": ("c32k3-p2-c64k3-p2-c128k3-p2-256-10", 10, None, (0.003, 0.00003)),
}


def run_cnn(name, args):
    """Test errors and QNet-vs-float class disagreements (%) of the CNN, per column."""
    arch, epochs, max_train, (lr_start, lr_end) = CNN_BUDGETS[name]
    epochs = args.epochs or epochs
    max_train = args.max_train or max_train
    errors = {column: [] for column in COLUMNS}
    disagreements = {column: [] for column in COLUMNS}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        ds = load_dataset(name, data_dir=args.data_dir, seed=seed, max_train=max_train)
        for column, options in COLUMNS.items():
            if column not in args.cnn_columns:
                continue
            start = time.perf_counter()
            quantized = options["weight_mode"] != "float"
            dense = [int(part) for part in arch.split("-") if part.isdigit()]
            config = NetworkConfig(sizes=(ds.n_inputs, *dense), arch=arch,
                                   image_shape=ds.image_shape, shift_based=quantized,
                                   act_quant="int" if quantized else None, **options)
            train_config = TrainConfig(epochs=epochs, seed=seed, quiet=True,
                                       lr_start=lr_start, lr_end=lr_end,
                                       threads=args.threads or None)
            network, history = train_model(ds, config, train_config)
            errors[column].append(100 * (1 - history.final["test_acc"]))
            if quantized:
                qnet = quantize(network, ds)
                agreement = measure_agreement(network, qnet, ds.x_test, ds.y_test)
                disagreements[column].append(100 * agreement.disagreement)
            if args.verbose:
                differ = f", QNet≠float {disagreements[column][-1]:.2f} %" if quantized else ""
                print(f"  {name} CNN seed {seed} {column}: test error {errors[column][-1]:.2f} %"
                      f"{differ}, {time.perf_counter() - start:.0f} s", flush=True)
    return errors, disagreements, (f"{arch}, {epochs} epochs, lr {lr_start:g}->{lr_end:g}, "
                                   f"{len(ds.y_train)} train / {len(ds.y_test)} test")


def _agreement_cell(agreements):
    """``max |QNet - float|`` accuracy in pp and the mean share of differing classes."""
    if not agreements:
        return "-"
    gap = max((100 * a.accuracy_gap for a in agreements), key=abs)
    return f"{gap:+.2f} pp, {np.mean([100 * a.disagreement for a in agreements]):.2f} % differ"


def print_cnn_rows(args, width):
    print(f"\nCNN: test error (%), mean ± std over {args.seeds} seeds; 8-bit activations in "
          "the quantized columns; 'QNet≠float' is the share of test images whose class differs")
    print(f"{'dataset':<14}" + "".join(f"{c:>{width}}" for c in COLUMNS) + "   setup")
    for name in args.cnn:
        start = time.perf_counter()
        try:
            errors, disagreements, setup = run_cnn(name, args)
        except DatasetError as error:
            print(f"{name:<14} skipped: {error}")
            continue
        cells = [f"{np.mean(e):.2f} ± {np.std(e):.2f}" if e else "-" for e in errors.values()]
        print(f"{name:<14}" + "".join(f"{c:>{width}}" for c in cells)
              + f"   {setup}, {time.perf_counter() - start:.0f} s")
        cells = [f"{np.mean(d):.2f}" if d else "-" for d in disagreements.values()]
        print(f"{'  QNet≠float':<14}" + "".join(f"{c:>{width}}" for c in cells), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["digits", "mnist5k", "fashion-mnist"],
                        help="datasets for the dense rows (none: CNN rows only)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds FIRST_SEED.. (to add seeds to an earlier run)")
    parser.add_argument("--epochs", type=int, default=None, help="override the per-set budget")
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--act-quant", choices=("none", "int", "pow2"), default="none")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stochastic", action="store_true",
                        help="sample the binary/ternary weights in training (dense rows)")
    parser.add_argument("--cnn", nargs="*", default=[], choices=sorted(CNN_BUDGETS),
                        help="datasets for the CNN rows (none by default)")
    parser.add_argument("--cnn-columns", nargs="+", choices=sorted(COLUMN_KEYS),
                        default=list(COLUMN_KEYS),
                        help="the CNN rows' columns to train (default: all four)")
    parser.add_argument("--verbose", action="store_true",
                        help="also print every run (test error, training loss per epoch)")
    args = parser.parse_args()
    args.cnn_columns = [COLUMN_KEYS[key] for key in args.cnn_columns]
    width = 30
    print(f"test error (%), mean ± std over {args.seeds} seeds; activations: {args.act_quant}; "
          f"weights in training: {'stochastic' if args.stochastic else 'deterministic'}")
    print(f"{'dataset':<14}" + "".join(f"{c:>{width}}" for c in COLUMNS) + "   setup")
    for name in args.datasets:
        start = time.perf_counter()
        try:
            errors, rises, agreements, setup = run(name, args)
        except DatasetError as error:
            print(f"{name:<14} skipped: {error}")
            continue
        cells = [f"{np.mean(errors[c]):.2f} ± {np.std(errors[c]):.2f} (rise {max(rises[c])})"
                 for c in COLUMNS]
        print(f"{name:<14}" + "".join(f"{c:>{width}}" for c in cells)
              + f"   {setup}, {time.perf_counter() - start:.0f} s", flush=True)
        cells = [_agreement_cell(agreements[c]) for c in COLUMNS]
        print(f"{'  QNet-float':<14}" + "".join(f"{c:>{width}}" for c in cells), flush=True)
    if args.cnn:
        print_cnn_rows(args, width)


if __name__ == "__main__":
    main()
