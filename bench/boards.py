"""Bitstream figures on the iCE40 UP5K and the ECP5-85F: LUTs, RAMs, Fmax, images/s.

Networks: the digits QNet (``build/model.qnet.npz`` when ``make demo`` has
made it, else a random ternary QNet of the same shape, 64-128-128-10), a
random ternary 784-256-256-10 and a trained fashion-mnist CNN
(``build/fashion-cnn.qnet.npz``, and ``fashion-cnn-s2`` with a stride-2 first
convolution; trained and quantized first when missing: :func:`fashion_cnn_commands`).
Each is folded for the board, built with YoWASP, and reported; a design the
pre-check or place-and-route refuses is reported with the reason.

Goals (issue 6): UP5K >= 30 MHz and >= 5,000 images/s for 784-256-256-10
with 0 DSPs; ECP5-85F >= 100 MHz and >= 100,000 images/s. Goals (issue 15)
for the fashion-mnist CNN: UP5K >= 1,000 images/s, ECP5-85F >= 20,000.
Goal (issue 16): UP5K >= 12,000 images/s for 784-256-256-10 at >= 30 MHz, with
images in flight (``--images B``, :data:`IMAGES`). Measured (README): B = 2 at
(4,7),(4,2),(1,1) needs 6,909 of 5,280 logic cells (28 BRAM); B = 3 at
(2,15),(1,10),(1,1) needs 7,823 logic cells and 62 of 30 BRAM: neither places.
Issue 16 asks >= 500,000 images/s of the ECP5-85F engine (about 200 cycles per
image), more than one pixel per beat allows (784 cycles for 784 pixels): that
engine (4 pixels a beat, which ``mulfree build --in-lanes 4`` now gives a board
top too) is built alone by ``bench/engine_bitstream.py`` with
:data:`ENGINE_FOLDINGS`, as its place-and-route alone takes hours here.

Usage::

    .venv/bin/python bench/boards.py [--boards icebreaker ulx3s-85f]
        [--nets digits mlp784 fashion-cnn fashion-cnn-s2] [--images B]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boards.build import build_bitstream  # noqa: E402
from golden_model.errors import MulfreeError  # noqa: E402
from golden_model.output_files import check_output_dir, write_json  # noqa: E402
from golden_model.qnet import InputSpec, QLayer, QNet  # noqa: E402
from hdl.folding import resolve_folding  # noqa: E402

#: Cycles per image the automatic folding aims for, per board: the 85F goal is
#: 100,000 images/s at 100 MHz (1,000 cycles): one pixel per cycle for 784 inputs,
#: and 512 for the digits (64 cycles needed 22.7k LUTs and reached only 65 MHz).
TARGET_CYCLES = {"icebreaker": {"digits": 1024},
                 "ulx3s-85f": {"digits": 512, "mlp784": 784}}

#: The fashion-mnist CNNs, ternary, trained on 4,000 images for 3 epochs and quantized
#: (test accuracy on 2,000 images, measured at the commit of the README's CNN rows):
#: 28x28 -> conv 3x3 8 ch -> pool 2 -> conv 3x3 16 ch -> pool 2 -> dense 10 (82.95 %),
#: and the same with a stride-2 first convolution instead of its pool (81.15 %).
FASHION_CNNS = {"fashion-cnn": "c8k3-p2-c16k3-p2-10", "fashion-cnn-s2": "c8k3s2-c16k3-p2-10"}


def fashion_cnn_commands(name):
    """The ``mulfree`` argument lists that train and quantize ``build/<name>.qnet.npz``."""
    model = f"build/{name}.npz"
    return (["train", "--dataset", "fashion-mnist", "--max-train", "4000", "--arch",
             FASHION_CNNS[name], "--qb", "--epochs", "3", "--threads", "1", "--quiet",
             "--out", model],
            ["quantize", model, "--max-test", "2000"])


#: Foldings given by hand. On the UP5K the automatic folding's LUT budget is not enough:
#: the CNN's pipeline registers outnumber its LUTs, and 3,298 estimated LUTs (folding
#: (2,5),(1,36),(1,2)) packed into 7,272 logic cells; this one reads conv2's 72-value
#: windows at SIMD 9. On the 85F any folding stops at the first window's floor (9 pixel
#: reads per output pixel, 7,084 cycles), which the automatic folding reaches.
FOLDINGS = {("icebreaker", "fashion-cnn"): [(1, 3), (1, 1), (1, 9), (1, 1), (1, 1), (1, 1)],
            ("ulx3s-85f", "fashion-cnn"): "auto-floor",
            ("ulx3s-85f", "fashion-cnn-s2"): "auto-floor"}


def random_qnet(sizes, in_bits, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = k == len(sizes) - 2
        weights = rng.choice([-1, 0, 1], size=(n_out, n_in), p=[0.35, 0.3, 0.35])
        layers.append(QLayer(weights=weights, bias=rng.integers(-64, 65, size=n_out),
                             shift=np.full(n_out, 0 if last else 4),
                             activation="linear" if last else "relu", out_bits=8))
    return QNet(input=InputSpec(sizes[0], in_bits, "random"), layers=layers)


def fashion_cnn(name):
    """A trained fashion-mnist CNN, trained and quantized first if it is missing."""
    path = Path(f"build/{name}.qnet.npz")
    if not path.exists():
        from mulfree import cli

        for argv in fashion_cnn_commands(name):
            if cli.main(argv) != 0:
                raise SystemExit(f"mulfree {argv[0]} failed for {name}")
    return QNet.load(path)


def networks(names):
    trained = Path("build/model.qnet.npz")
    makers = {
        "digits": lambda: ((QNet.load(trained), "trained") if trained.exists() else
                           (random_qnet((64, 128, 128, 10), 5), "random, digits shape")),
        "mlp784": lambda: (random_qnet((784, 256, 256, 10), 8),
                           "random ternary 784-256-256-10"),
        **{name: (lambda name=name, arch=arch: (fashion_cnn(name),
                                                f"trained fashion-mnist {arch}"))
           for name, arch in FASHION_CNNS.items()}}
    return {name: makers[name]() for name in names}


#: The engine alone (``bench/engine_bitstream.py``), per board and net: folding and
#: pixels per input beat. 784-256-256-10 at 196 cycles/image: layer 0 is 4 x 49 folds
#: of 64 x 16 lanes, layer 1 128 cycles, layer 2 160, the input 196 beats of 4 pixels.
#: Measured at c8908bf: Yosys fits it (39,320 LUT4, 42,828 FF, 91 DP16KD); nextpnr-ecp5's
#: placer did not finish (no analytical iteration in 40 minutes), so no Fmax yet.
ENGINE_FOLDINGS = {("ulx3s-85f", "mlp784"): ([(64, 16), (8, 64), (1, 16)], 4)}


#: Builds left to the board's memory planner (weights in SPRAM, loaded over the UART):
#: folding "auto" within a LUT budget, and the clock to request (MHz). The UP5K goal of
#: 5,000 images/s at 6,784 cycles/image needs 34 MHz; 36 MHz is requested.
PLANNED = {("icebreaker", "mlp784"): {"lut_budget": 3000, "clock_mhz": 36}}

#: Builds with images in flight (``--images B``, issue 16): folding, weight stores and
#: clock per (board, net, B), built even when the estimate does not fit, to measure how
#: far over the device they are. B = 2: the folding of fewest block RAMs by the estimate
#: (the input buffers grow B-fold in width); B = 3: the B = 1 row's folding.
IMAGES = {("icebreaker", "mlp784", 2): {"folding": [(4, 7), (4, 2), (1, 1)],
                                        "weight_store": ["spram", "spram", "rom"],
                                        "clock_mhz": 36},
          ("icebreaker", "mlp784", 3): {"folding": [(2, 15), (1, 10), (1, 1)],
                                        "weight_store": ["spram", "spram", "rom"],
                                        "clock_mhz": 30}}


def run(board, net_name, qnet, out_root, images=1):
    planned = PLANNED.get((board, net_name))
    given = FOLDINGS.get((board, net_name))
    if images > 1:
        if (board, net_name, images) not in IMAGES:
            return {"board": board, "net": net_name, "folding": None, "status": "skipped",
                    "reason": f"no build with {images} images in flight (IMAGES)"}
        options = dict(IMAGES[board, net_name, images], images=images, check_estimate=False)
        folding = options.pop("folding")
    elif planned:
        folding, options = "auto", dict(planned)
    elif given == "auto-floor":
        folding, options = [tuple(pair) for pair in resolve_folding(
            qnet, "auto", target_cycles=1, lut_budget=10**6)], {}
    elif given is not None:
        folding, options = given, {}
    elif net_name not in TARGET_CYCLES[board]:
        return {"board": board, "net": net_name, "folding": None, "status": "skipped",
                "reason": "no folding chosen for this board (FOLDINGS)"}
    else:
        folding, options = [tuple(pair) for pair in resolve_folding(
            qnet, "auto", target_cycles=TARGET_CYCLES[board][net_name])], {}
    start = time.perf_counter()
    started_at = time.time()
    row = {"board": board, "net": net_name, "folding": folding}
    try:
        report = build_bitstream(qnet, board, out_root / f"{board}-{net_name}", folding=folding,
                                 log=lambda line: print("   ", line), **options)
        row["folding"] = report["estimate"]["folding"]
        row.update(status="ok", report=report)
    except MulfreeError as error:
        row.update(status=type(error).__name__, reason=str(error))
        # A timing miss leaves this build's report; any other failure may leave an older
        # build's, whose figures are not this build's.
        report_path = out_root / f"{board}-{net_name}" / "report.json"
        if report_path.exists() and report_path.stat().st_mtime >= started_at:
            row["report"] = json.loads(report_path.read_text())
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def table(rows):
    lines = [f"{'board':<11}{'net':<12}{'LUT':>13}{'BRAM':>8}{'SPRAM':>7}{'DSP':>5}"
             f"{'MHz req':>9}{'Fmax':>8}{'cyc/img':>9}{'img/s':>11}  status"]
    for row in rows:
        report = row.get("report")
        if report is None:
            lines.append(f"{row['board']:<11}{row['net']:<12}{'-':>13}{'-':>8}{'-':>7}{'-':>5}"
                         f"{'-':>9}{'-':>8}{'-':>9}{'-':>11}  {row['status']}: {row['reason']}")
            continue
        res = report["resources"]
        lines.append(
            f"{row['board']:<11}{row['net']:<12}"
            f"{res['LUT']['used']:>7}/{res['LUT']['available']:<5}"
            f"{res['BRAM']['used']:>8}{res['SPRAM']['used']:>7}{res['DSP']['used']:>5}"
            f"{report['clock']['requested_mhz']:>9.1f}{report['clock']['achieved_mhz']:>8.1f}"
            f"{report['cycles_per_image']:>9}{report['images_per_s']:>11,.0f}  {row['status']}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", nargs="+", default=["icebreaker", "ulx3s-85f"])
    parser.add_argument("--nets", nargs="+", default=["digits", "mlp784"],
                        choices=["digits", "mlp784", *FASHION_CNNS])
    parser.add_argument("--out", default="build/bench/boards")
    parser.add_argument("--images", type=int, default=1,
                        help="images in flight per layer (builds listed in IMAGES only)")
    args = parser.parse_args()
    out_root = Path(args.out)
    try:
        check_output_dir(out_root, "--out")
    except MulfreeError as error:
        parser.error(str(error))
    out_root.mkdir(parents=True, exist_ok=True)
    nets = networks(args.nets)
    rows = []
    for net_name in args.nets:
        qnet, what = nets[net_name]
        for board in args.boards:
            print(f"== {board} / {net_name} ({what})", flush=True)
            rows.append(run(board, net_name, qnet, out_root, args.images))
            print(table(rows[-1:]), flush=True)
    print()
    print(table(rows))
    summary = [{k: v for k, v in row.items() if k != "report"} | (
        {"resources": row["report"]["resources"], "clock": row["report"]["clock"],
         "cycles_per_image": row["report"]["cycles_per_image"],
         "images_per_s": row["report"]["images_per_s"]} if "report" in row else {})
        for row in rows]
    try:
        write_json(out_root / "summary.json", summary, indent=2)
    except MulfreeError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
