"""Cycles per image: Amaranth simulation vs the estimate, for a digits network.

Streams real digits test images through the accelerator in Amaranth's
simulator (no backpressure) for several foldings and prints the simulated
initiation interval (distance between consecutive outputs) and first-image
latency next to the estimates, and checks every answer against the QNet.

Usage: python bench/cycles_per_image.py [--model build/model.qnet.npz] [--images 4]
Without a model file, a hand-built 64-32-10 ternary network stands in.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden_model.datasets import load_dataset  # noqa: E402
from golden_model.qnet import InputSpec, QLayer, QNet  # noqa: E402
from hdl.accelerator import Accelerator  # noqa: E402
from hdl.simulate import simulate_accelerator  # noqa: E402


def stand_in_qnet(seed=0):
    rng = np.random.default_rng(seed)
    hidden = QLayer(weights=rng.integers(-1, 2, size=(32, 64)), bias=rng.integers(-8, 8, 32),
                    shift=np.full(32, 2), activation="relu", out_bits=4)
    out = QLayer(weights=rng.integers(-1, 2, size=(10, 32)), bias=np.zeros(10, int),
                 shift=np.zeros(10, int), activation="linear")
    return QNet(input=InputSpec(64, 5, "digits", (8, 8)), layers=[hidden, out])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/model.qnet.npz")
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args(argv)
    if Path(args.model).exists():
        qnet, source = QNet.load(args.model), args.model
    else:
        qnet, source = stand_in_qnet(), "hand-built 64-32-10 (no model file)"
    sizes = [qnet.input.n_inputs] + [layer.n_out for layer in qnet.layers]
    images = np.asarray(load_dataset("digits").x_test[:args.images], dtype=np.int64)
    configs = [
        ("PE=SIMD=1", None, 1, {}),
        ("auto, target 256", "auto", 8, {"target_cycles": 256}),
        ("auto, target 64", "auto", 8, {"target_cycles": 64}),
        ("auto, LUT budget 4000", "auto", 8, {"lut_budget": 4000}),
    ]
    print(f"network {'-'.join(map(str, sizes))} from {source}, {args.images} digits test images")
    print(f"{'folding':>24} {'lanes':>5} {'est II':>7} {'sim II':>7} {'est lat':>8} "
          f"{'sim lat':>8} {'exact':>6} {'sim s':>6}  (pe, simd) per layer")
    for name, folding, in_lanes, goals in configs:
        acc = Accelerator(qnet, folding=folding, in_lanes=in_lanes, **goals)
        start = time.time()
        result = simulate_accelerator(acc, images)
        seconds = time.time() - start
        logits, classes = qnet.forward(images)
        exact = np.array_equal(result.logits, logits) and np.array_equal(result.classes, classes)
        sim_ii = result.steady_cycles_per_image
        print(f"{name:>24} {in_lanes:>5} {acc.cycles_per_image:>7} "
              f"{'-' if sim_ii is None else f'{sim_ii:.1f}':>7} {acc.latency_cycles:>8} "
              f"{result.first_latency:>8} {str(exact):>6} {seconds:>6.1f}  {acc.folding}")
        if not exact:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
