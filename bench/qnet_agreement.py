"""Float model vs QNet integer forward: accuracy and class disagreement.

Trains ternary networks with quantized back-propagation on each dataset, with
integer or power-of-two activations of 2, 4 and 8 bits, quantizes each to a
QNet and prints the float (quantized-eval) accuracy, the QNet accuracy, the
difference and the fraction of test images whose class differs. The goal is
a QNet within 0.5 percentage points of its float model.

    .venv/bin/python bench/qnet_agreement.py
    .venv/bin/python bench/qnet_agreement.py --datasets fashion-mnist --max-train 0 --epochs 10
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden_model.agreement import measure_agreement  # noqa: E402
from golden_model.datasets import load_dataset  # noqa: E402
from golden_model.network import NetworkConfig  # noqa: E402
from golden_model.quantize import quantize  # noqa: E402
from golden_model.train import TrainConfig, train_model  # noqa: E402

#: activation bits -> step exponent f (step 2**-f): keeps roughly +-2..4 sigma of a
#: batch-normalised unit on the grid
FRAC_BITS = {2: 1, 4: 2, 8: 4}
HIDDEN = {"digits": (64, 64), "fashion-mnist": (256, 256)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion-mnist"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--bits", nargs="+", type=int, default=[2, 4, 8])
    parser.add_argument("--modes", nargs="+", default=["int", "pow2"])
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default 20 on digits, 5 elsewhere)")
    parser.add_argument("--max-train", type=int, default=10000,
                        help="training images for non-built-in datasets (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run(dataset, mode, bits, epochs, seed):
    config = NetworkConfig(
        sizes=(dataset.n_inputs, *HIDDEN.get(dataset.name, (128, 128)), dataset.n_classes),
        weight_mode="ternary", quantized_backprop=True, act_quant=mode, act_bits=bits,
        act_frac_bits=FRAC_BITS.get(bits, bits // 2))
    start = time.perf_counter()
    network, _ = train_model(dataset, config, TrainConfig(epochs=epochs, quiet=True, seed=seed))
    seconds = time.perf_counter() - start
    qnet = quantize(network, dataset)
    agreement = measure_agreement(network, qnet, dataset.x_test, dataset.y_test)
    return agreement, qnet.meta["quantization"], seconds


def main(argv=None):
    args = parse_args(argv)
    header = (f"{'dataset':<14} {'weights':<10} {'act':<5} {'B':>2} {'float':>7} {'QNet':>7} "
              f"{'diff pp':>8} {'disagree':>9} {'hidden':>7} {'train s':>8}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name in args.datasets:
        limit = None if name == "digits" or args.max_train == 0 else args.max_train
        dataset = load_dataset(name, data_dir=args.data_dir, seed=args.seed, max_train=limit)
        epochs = args.epochs or (20 if name == "digits" else 5)
        for mode in args.modes:
            for bits in args.bits:
                a, info, seconds = run(dataset, mode, bits, epochs, args.seed)
                hidden_exact = all(layer["exact"] for layer in info["layers"][:-1])
                worst = max(worst, abs(a.accuracy_gap))
                print(f"{name:<14} {'ternary+QB':<10} {mode:<5} {bits:>2} "
                      f"{100 * a.float_accuracy:>6.2f}% {100 * a.qnet_accuracy:>6.2f}% "
                      f"{100 * a.accuracy_gap:>+8.2f} {100 * a.disagreement:>8.2f}% "
                      f"{'exact' if hidden_exact else 'approx':>7} {seconds:>8.1f}", flush=True)
    print(f"largest |QNet - float| accuracy difference: {100 * worst:.2f} pp "
          f"(goal: at most 0.50 pp) -> {'met' if worst <= 0.005 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
