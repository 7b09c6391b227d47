"""A design-space sweep on digits: Pareto fronts per board, and 1 vs 2 Dask workers.

The full sweep is 12 icebreaker points (three architectures x ternary/binary
weights x 4/8-bit activations) and 3 ulx3s-85f points, each trained,
quantized, generated and built into a bitstream. It runs twice from scratch,
with one and with two LocalCluster workers, into separate folders (so that
neither takes the other's results from the cache), and reports both wall
times and their ratio, and each board's Pareto front.

``--reduced`` runs 4 small icebreaker points (a check that the bench works,
not the figure: on a shared machine the ratio also measures the other load).

Usage::

    .venv/bin/python bench/sweep.py [--reduced] [--out build/bench/sweep] [--sim N]

The specifications are written to ``<out>/<name>.toml``, so any sweep can be
re-run with ``mulfree sweep <out>/<name>.toml --out ...``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden_model.output_files import check_output_dir, write_json, write_text  # noqa: E402
from sweep import run_sweep  # noqa: E402
from sweep.pareto import format_fronts  # noqa: E402

#: name -> TOML text; {stages} and {sim_images} are filled in.
FULL = {
    "icebreaker": """\
[sweep]
stages = {stages}
sim_images = {sim_images}
[axes]
dataset = "digits"
arch = ["64-32-10", "64-64-10", "64-64-64-10"]
weights = ["ternary", "binary"]
qb = true
act_bits = [4, 8]
folding = "auto"
board = "icebreaker"
epochs = 20
""",
    "ulx3s-85f": """\
[sweep]
stages = {stages}
sim_images = {sim_images}
[axes]
dataset = "digits"
arch = ["64-32-10", "64-64-10", "64-64-64-10"]
weights = "ternary"
qb = true
act_bits = 4
folding = "auto"
board = "ulx3s-85f"
epochs = 20
""",
}

REDUCED = {
    "icebreaker": """\
[sweep]
stages = {stages}
sim_images = {sim_images}
[axes]
dataset = "digits"
arch = ["64-16-10", "64-32-10"]
weights = ["ternary", "binary"]
act_bits = 4
folding = "none"
board = "icebreaker"
epochs = 10
""",
}


def write_specs(specs, out, sim_images):
    stages = ["train", "quantize", "generate"] + (["sim"] if sim_images else []) + ["build"]
    paths = {}
    for name, text in specs.items():
        paths[name] = write_text(out / f"{name}.toml", text.format(
            stages=json.dumps(stages), sim_images=sim_images or 1))
    return paths


def run_all(paths, out, workers):
    """Every spec with ``workers`` workers, from scratch; returns (seconds, reports)."""
    start = time.perf_counter()
    reports = {name: run_sweep(path, out / f"{workers}-workers" / name, workers=workers,
                               log=lambda line: None)
               for name, path in paths.items()}
    return time.perf_counter() - start, reports


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/bench/sweep", help="output folder")
    parser.add_argument("--reduced", action="store_true",
                        help="4 small icebreaker points: checks the bench, not the figure")
    parser.add_argument("--sim", type=int, default=0, metavar="N",
                        help="also verify N test images per point in RTL simulation")
    args = parser.parse_args(argv)
    out = check_output_dir(Path(args.out) / ("reduced" if args.reduced else "full"), "--out")
    for workers in (1, 2):
        if (out / f"{workers}-workers").exists():
            sys.exit(f"bench/sweep.py: {out / f'{workers}-workers'} exists: the timing "
                     "needs a sweep from scratch; remove it or pass another --out")
    paths = write_specs(REDUCED if args.reduced else FULL, out, args.sim)
    timings, summary = {}, {"reduced": args.reduced, "sim_images": args.sim, "workers": {}}
    for workers in (1, 2):
        seconds, reports = run_all(paths, out, workers)
        timings[workers] = seconds
        summary["workers"][workers] = {
            "wall_s": round(seconds, 1),
            "points": sum(len(r.rows) for r in reports.values()),
            "not_ok": sum(r.failed for r in reports.values()),
            # The points' own run times: under other load they grow, and the ratio shrinks.
            "points_s": round(sum(row["wall_s"] or 0 for r in reports.values()
                                  for row in r.rows), 1),
            "statuses": {name: [row["status"] for row in r.rows]
                         for name, r in reports.items()}}
        fronts = {board: front for r in reports.values() for board, front in r.fronts.items()}
        print(f"{workers} worker(s): {seconds:.1f} s")
    summary["ratio_1_to_2"] = round(timings[1] / timings[2], 2)
    table = format_fronts(fronts)
    write_text(out / "pareto.md", table)
    write_json(out / "summary.json", summary)
    print(table)
    print("| workers | wall time (s) | points' own time (s) | points | not ok |\n"
          "|---|---|---|---|---|")
    for workers in (1, 2):
        entry = summary["workers"][workers]
        print(f"| {workers} | {entry['wall_s']} | {entry['points_s']} | {entry['points']} "
              f"| {entry['not_ok']} |")
    print(f"1-worker / 2-worker wall time: {summary['ratio_1_to_2']}"
          + (" (reduced run)" if args.reduced else ""))
    print(f"wrote {out / 'pareto.md'}, {out / 'summary.json'}")


if __name__ == "__main__":
    main()
