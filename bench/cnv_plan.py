"""Plan and estimate of FINN's CNV geometry (CIFAR-10) on the ECP5-85F, random ternary weights.

CNV: 32x32x3 -> conv 64, 64, pool 2, conv 128, 128, pool 2, conv 256, 256 (all 3x3
valid) -> dense 512, 512, 10; 2-bit activations. FINN's CNV-W2A2 reaches 3,031
images/s on an AUP-ZU3. Prints, per LUT budget, the automatic folding's cycles per
image, LUT/FF estimate and block RAMs next to the 85F's 208, and images/s at a clock.

Usage::

    .venv/bin/python bench/cnv_plan.py [--budgets 20000 40000 80000] [--mhz 60]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden_model.qnet import InputSpec, QConv2D, QFlatten, QLayer, QMaxPool2D, QNet  # noqa: E402
from hdl.accelerator_plan import plan_accelerator  # noqa: E402

#: ECP5-85F block RAMs (DP16KD)
ECP5_85F_BLOCK_RAMS = 208
#: FINN's CNV-W2A2 on an AUP-ZU3, images/s
FINN_CNV_W2A2 = 3031


def cnv_qnet(seed=0):
    """CNV's layer geometry with random ternary weights and 2-bit activations."""
    rng = np.random.default_rng(seed)
    layers, shape = [], (32, 32, 3)
    for item in (64, 64, "pool", 128, 128, "pool", 256, 256):
        if item == "pool":
            layers.append(QMaxPool2D(in_shape=shape, size=2))
        else:
            layers.append(QConv2D(weights=rng.integers(-1, 2, (item, 3, 3, shape[2])),
                                  bias=rng.integers(-20, 20, item), shift=np.full(item, 4),
                                  in_shape=shape, padding="valid", activation="relu",
                                  out_bits=2))
        shape = layers[-1].out_shape
    layers.append(QFlatten(in_shape=shape))
    n = layers[-1].out_shape[0]
    for m in (512, 512):
        layers.append(QLayer(weights=rng.integers(-1, 2, (m, n)), bias=rng.integers(-20, 20, m),
                             shift=np.full(m, 4), activation="relu", out_bits=2))
        n = m
    layers.append(QLayer(weights=rng.integers(-1, 2, (10, n)), bias=rng.integers(-20, 20, 10),
                         shift=np.zeros(10, dtype=np.int64), activation="linear"))
    return QNet(InputSpec(n_inputs=32 * 32 * 3, bits=8, dataset="cifar10",
                          image_shape=(32, 32, 3)), layers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", type=int, default=[20000, 40000, 80000])
    parser.add_argument("--mhz", type=float, default=60.0)
    args = parser.parse_args()
    qnet = cnv_qnet()
    print(f"{'LUT budget':>10}{'cyc/img':>10}{'LUT est':>9}{'FF est':>9}{'EBR':>6}"
          f"{'img/s':>9}  folding")
    for budget in args.budgets:
        # Three channels a beat: one pixel per cycle into the first window.
        plan = plan_accelerator(qnet, "auto", in_lanes=3, lut_budget=budget)
        totals = plan.estimate["totals"]
        ebr = totals["block_rams"]["ecp5"]
        fits = "fits" if ebr <= ECP5_85F_BLOCK_RAMS else f"> {ECP5_85F_BLOCK_RAMS}"
        print(f"{budget:>10}{plan.cycles_per_image:>10}{totals['lut']:>9}{totals['ff']:>9}"
              f"{ebr:>6}{args.mhz * 1e6 / plan.cycles_per_image:>9,.0f}  "
              f"{list(plan.folding)} ({fits})")
    print(f"FINN CNV-W2A2 on an AUP-ZU3: {FINN_CNV_W2A2:,} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
