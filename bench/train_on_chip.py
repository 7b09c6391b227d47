"""Training on the chip: samples/s of the hardware trainer vs the NumPy trainers on this CPU.

For each network and board: the trainer's cycles per sample (measured in the
Amaranth simulation of the trainer, checked against the plan), times the Fmax
nextpnr achieved in a real build of the training bitstream, against the QTrain
NumPy golden model (one sample per step, the same arithmetic) and the float
NumPy trainer (same sizes, Adam, batch 1 and batch 64) on this CPU; with the
build's LUT, FF, block RAM, SPRAM and DSP counts. Then the state after the
samples simulated on the trainer is compared with the golden model's (equal,
or the benchmark fails).

    python bench/train_on_chip.py                        # the default rows (builds if needed)
    python bench/train_on_chip.py --rows icebreaker:16-8-4:1x2,1x1:narrow
    python bench/train_on_chip.py --no-build             # reuse build/<board>-train-<net>/

A row is ``BOARD:SIZES:FOLDING[:narrow][:spram0]`` (``spramK``: layer ``K``'s shadows
in SPRAM); a build that is missing is made (one at a time, several minutes each)
unless ``--no-build``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# The repository first: bench/boards.py would otherwise shadow the boards package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden_model.layer import RunMode  # noqa: E402
from golden_model.losses import squared_hinge  # noqa: E402
from golden_model.network import NetworkConfig, build_network  # noqa: E402
from golden_model.optimizers import Adam  # noqa: E402
from golden_model.qtrain import QTrainConfig, init_state  # noqa: E402
from golden_model.qtrain.epochs import run_epoch  # noqa: E402
from hdl.trainer.plan import plan_trainer  # noqa: E402
from hdl.trainer.simulate import simulate_training, state_mismatches  # noqa: E402

#: Digits-sized 64-64-10 with narrow widths on the UP5K (the ``mulfree learn``
#: widths need 32 block RAMs even at PE = SIMD = 1; this folding takes 93 % of
#: its logic cells, the LUT-only budget folding (2, 8), (5, 1) 138 %, today's
#: logic-cell budget folding (1, 8), (1, 1) 94 % at the same cycles), 784-128-10 with the
#: ``mulfree learn`` widths on the ECP5-85F at a small folding (30 % of its LUTs;
#: its place-and-route takes more than 15 minutes on a shared 2-core machine).
DEFAULT_ROWS = ("icebreaker:64-64-10:2x4,1x1:narrow", "ulx3s-85f:784-128-10:1x28,1x16")


def parse_row(text):
    """``BOARD:SIZES:FOLDING[:narrow][:sprammK...]`` -> (board, sizes, folding, narrow,
    spram layers)."""
    board, sizes, folding, *rest = text.split(":")
    sizes = tuple(int(n) for n in sizes.split("-"))
    folding = [tuple(int(v) for v in pair.split("x")) for pair in folding.split(",")]
    spram = tuple(int(flag[5:]) for flag in rest if flag.startswith("spram"))
    return board, sizes, folding, "narrow" in rest, spram


def make_state(sizes, narrow=False, seed=0):
    """A QTrain state with the ``mulfree learn`` defaults (4-bit pixels, no decay), or
    with narrow shadows, biases and errors (``narrow``: a trainer that fits the UP5K)."""
    n = len(sizes) - 1
    widths = (dict(w0_log2=3, bias_log2=5, target=8, delta_bits=8) if narrow else
              dict(w0_log2=10, bias_log2=12, target=64, delta_bits=16))
    config = QTrainConfig(weight_mode="ternary", sampling="stochastic",
                          input_rounding="stochastic", eta=(2,) * (n - 1) + (4,),
                          eta_bias=(4,) * n, backward_shift=(0,) + (4,) * (n - 1),
                          decay_epochs=0, seed=seed, **widths)
    return init_state(list(sizes), 4, config, shift=(1 if narrow else 0,) * (n - 1) + (2,),
                      out_bits=4 if narrow else 8)


def samples(sizes, n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 16, (n, sizes[0])), rng.integers(0, sizes[-1], n)


def qtrain_numpy_rate(state, x, y):
    state = state.copy()
    start = time.perf_counter()
    run_epoch(state, x, y)
    return len(y) / (time.perf_counter() - start)


def float_numpy_rate(sizes, x, y, batch):
    net = build_network(NetworkConfig(sizes=sizes, input_bits=4), x.mean(axis=0),
                        np.random.default_rng(0))
    optimizer = Adam(net.parameters())
    mode = RunMode(train=True, rng=np.random.default_rng(1))
    xf = x.astype(np.float32)
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        logits = net.forward(xf[i:i + batch], mode)
        _, grad = squared_hinge(logits, y[i:i + batch])
        net.backward(grad)
        optimizer.step(1e-3)
        net.after_update()
    return len(y) / (time.perf_counter() - start)


def simulated_cycles(state, folding, x, y, spram=()):
    """Cycles per sample in the Amaranth simulation (input beats + busy), and the
    state after the samples compared with the golden model's."""
    result = simulate_training(state, folding, x, y, spram=spram)
    golden = state.copy()
    run_epoch(golden, x, y, order=np.arange(len(y)))
    mismatches = state_mismatches(golden, result["state"])
    if mismatches:
        raise SystemExit("the simulated trainer differs from the golden model: "
                         + "; ".join(mismatches[:3]))
    cycles = {c + state.input.n_inputs + 1 for c in result["busy_cycles"]}
    return max(cycles)


def build_report(board, state, folding, out_dir, allow_build, spram=()):
    path = Path(out_dir) / "report.json"
    if path.is_file():
        return json.loads(path.read_text())
    if not allow_build:
        return None
    from boards.train_build import build_training_bitstream
    return build_training_bitstream(state, folding, board, out_dir, allow_timing_miss=True,
                                    spram=spram)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS))
    parser.add_argument("--samples", type=int, default=400,
                        help="samples timed on the CPU (default %(default)s)")
    parser.add_argument("--sim-samples", type=int, default=3,
                        help="samples simulated on the trainer (default %(default)s)")
    parser.add_argument("--no-build", action="store_true", help="only reuse existing builds")
    parser.add_argument("--build-dir", default="build")
    args = parser.parse_args(argv)

    header = (f"{'board':<11}{'network':<12}{'folding':<14}{'LUT':>7}{'FF':>7}{'BRAM':>6}"
              f"{'SPRAM':>6}{'DSP':>5}{'Fmax MHz':>10}{'cyc/smp':>9}{'HW smp/s':>11}"
              f"{'QTrain np':>11}{'float b1':>10}{'float b64':>10}")
    lines = [header]
    for row in args.rows:
        board, sizes, folding, narrow, spram = parse_row(row)
        state = make_state(sizes, narrow)
        plan = plan_trainer(state, folding, spram)
        x, y = samples(sizes, args.samples)
        cycles = simulated_cycles(state, folding, x[:args.sim_samples], y[:args.sim_samples],
                                  spram)
        if cycles != plan.cycles_per_sample:
            raise SystemExit(f"{row}: {cycles} cycles per sample simulated, the plan says "
                             f"{plan.cycles_per_sample}")
        net = "-".join(map(str, sizes)) + ("n" if narrow else "") \
            + "".join(f"s{k}" for k in spram)
        report = build_report(board, state, folding,
                              Path(args.build_dir) / f"{board}-train-{net}", not args.no_build,
                              spram)
        qtrain = qtrain_numpy_rate(state, x, y)
        float1 = float_numpy_rate(sizes, x, y, 1)
        float64 = float_numpy_rate(sizes, x, y, 64)
        if report is None:
            res = dict.fromkeys(("LUT", "FF", "BRAM", "SPRAM", "DSP"), "-")
            fmax, hw = "-", "-"
        else:
            used = {name: entry["used"] for name, entry in report["resources"].items()}
            res = {"LUT": used.get("LUT", "-"), "FF": used.get("FF", "-"),
                   "BRAM": used.get("BRAM", "-"), "SPRAM": used.get("SPRAM", "-"),
                   "DSP": used.get("DSP", "-")}
            fmax = report["clock"]["achieved_mhz"]
            hw = f"{fmax * 1e6 / cycles:,.0f}"
        lines.append(f"{board:<11}{net:<12}{str(folding).replace(' ', ''):<14}"
                     f"{res['LUT']:>7}{res['FF']:>7}{res['BRAM']:>6}{res['SPRAM']:>6}"
                     f"{res['DSP']:>5}{fmax:>10}{cycles:>9}{hw:>11}{qtrain:>11,.0f}"
                     f"{float1:>10,.0f}{float64:>10,.0f}")
        print(lines[-1] if len(lines) > 2 else "\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
