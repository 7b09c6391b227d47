"""Test accuracy of QTrain (integer, multiplier-free training) against float SGD.

One row per dataset and architecture; columns: the float trainer with the same
architecture (plain SGD, batch size 1, no momentum, no batch norm, squared
hinge, the same epochs), QTrain deterministic (deterministic weight sampling
and input rounding) and QTrain stochastic. Mean ± std of the test accuracy (%)
over the seeds; QTrain is measured with its deterministic weights, i.e. the
exported QNet. The QTrain parameters are the ``mulfree learn`` defaults, tuned
on the digits validation split only.

    python bench/qtrain_accuracy.py                          # every row, 3 seeds
    python bench/qtrain_accuracy.py --rows digits-64 --seeds 1
    python bench/qtrain_accuracy.py --max-train 2000         # subsets (said in the table)

Rows whose dataset files are missing are skipped with a note.
"""

import argparse
import time

import numpy as np

from golden_model.datasets import load_dataset
from golden_model.errors import DatasetError
from golden_model.network import NetworkConfig
from golden_model.qtrain import QTrainConfig, accuracy, fit, init_state
from golden_model.train import TrainConfig, train_model

#: row -> (dataset, hidden size, epochs, float SGD learning rates, QTrain overrides)
ROWS = {
    "digits-64": ("digits", 64, 20, (0.01, 0.001), {}),
    "digits-128": ("digits", 128, 20, (0.01, 0.001), {}),
    # 8-bit pixels and 784 inputs: a larger first shift and a slower first layer,
    # tuned on the mnist5k validation split (one seed, 8 epochs).
    "mnist5k-128": ("mnist5k", 128, 10, (0.01, 0.001),
                    dict(shift=(6, 3), eta=(6, 4), decay_epochs=3)),
    # Slower updates: (7, 5) was best of five on the fashion-mnist validation split
    # (4 epochs, one seed), though all were within noise of each other.
    "fashion-mnist-128": ("fashion-mnist", 128, 10, (0.01, 0.001),
                          dict(shift=(6, 3), eta=(7, 5), decay_epochs=3)),
}

#: The ``mulfree learn`` defaults (golden_model/cmd_learn.py).
QTRAIN = dict(w0_log2=10, bias_log2=12, target=64, delta_bits=16, eta=(2, 4), eta_bias=(4, 4),
              backward_shift=(0, 4), decay_epochs=5)
SHIFT = (0, 2)


def float_sgd(ds, hidden, epochs, lrs, seed):
    config = NetworkConfig(sizes=(ds.n_inputs, hidden, ds.n_classes), weight_mode="float",
                           batchnorm=False, act_quant=None)
    train_config = TrainConfig(epochs=epochs, batch_size=1, optimizer="sgd", momentum=0.0,
                               lr_start=lrs[0], lr_end=lrs[1], loss="hinge", seed=seed,
                               quiet=True, bn_calibration=0)
    _, history = train_model(ds, config, train_config)
    return history.final["test_acc"]


def qtrain(ds, hidden, epochs, overrides, seed, mode):
    options = {**QTRAIN, **overrides}
    shift = options.pop("shift", SHIFT)
    config = QTrainConfig(sampling=mode, input_rounding=mode, seed=seed, **options)
    state = init_state((ds.n_inputs, hidden, ds.n_classes), ds.input_bits, config,
                       shift=shift)
    fit(state, ds, epochs)
    return accuracy(state, ds.x_test, ds.y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override every row's epochs")
    parser.add_argument("--max-train", type=int, default=None, help="training subset size")
    parser.add_argument("--skip-float", action="store_true")
    args = parser.parse_args()
    columns = ("float SGD", "QTrain det", "QTrain stoch")
    print(f"test accuracy (%), mean ± std over {args.seeds} seeds")
    print(f"{'row':<19}" + "".join(f"{c:>16}" for c in columns) + "   setup")
    for row in args.rows:
        name, hidden, epochs, lrs, shifts = ROWS[row]
        epochs = args.epochs or epochs
        start = time.perf_counter()
        results = {c: [] for c in columns}
        try:
            for seed in range(args.seeds):
                ds = load_dataset(name, data_dir=args.data_dir, seed=seed,
                                  max_train=args.max_train)
                if not args.skip_float:
                    results["float SGD"].append(float_sgd(ds, hidden, epochs, lrs, seed))
                for column, mode in (("QTrain det", "deterministic"),
                                     ("QTrain stoch", "stochastic")):
                    results[column].append(qtrain(ds, hidden, epochs, shifts, seed, mode))
        except DatasetError as error:
            print(f"{row:<19} skipped: {error}")
            continue
        cells = [f"{100 * np.mean(v):.2f} ± {100 * np.std(v):.2f}" if v else "-"
                 for v in results.values()]
        arch = f"{ds.n_inputs}-{hidden}-{ds.n_classes}"
        print(f"{row:<19}" + "".join(f"{c:>16}" for c in cells)
              + f"   {arch}, {epochs} epochs, {len(ds.y_train)} train / {len(ds.y_test)} test, "
                f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
