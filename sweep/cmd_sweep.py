"""``mulfree sweep``: a grid (or an Optuna search) of networks and boards, run on Dask, to
Pareto fronts per board."""

import argparse

from golden_model.cli_args import integer

#: The specification format, shown by ``mulfree sweep --help`` (docs/sweep.md has the rest).
SPEC_HELP = """\
SPEC is a TOML file; every axis takes one value or a list, and the grid is
their product (axes left out take the default shown):

  [sweep]
  stages = ["train", "quantize", "generate"]  # + "sim", "build"; train, quantize always
  sim_images = 100                            # test images checked in RTL simulation
  simulator = "verilator"                     # or "icarus"

  [axes]
  dataset = "digits"           # a dataset name (mulfree train --dataset)
  arch = "default"             # layer sizes, e.g. ["64-32-10", "64-64-64-10"]
  weights = "ternary"          # "float", "binary", "ternary"
  qb = false                   # quantized back-propagation
  act_bits = 8                 # activation width B (step 2**-(B//2))
  pow2 = false                 # power-of-two activations
  folding = "auto"             # "none", "auto", "PE:SIMD,..." or a LUT budget (auto)
  board = "none"               # e.g. "icebreaker", "ulx3s-85f"; needed by "build"
  clock = "default"            # MHz, or the board's default
  seed = 0
  epochs = 30

With a [search] table the axes are searched instead of gridded (Optuna,
multi-objective; lists are choices, {low = 2, high = 8} a range, one value is
fixed) and the study is kept in OUT/study.db, so a rerun continues it:

  [search]
  method = "optuna"
  trials = 20                                  # the study's total
  objectives = ["qnet_acc", "lut", "images_per_s"]
  sampler = "nsga2"                            # or "tpe", "random"
  seed = 0

Each point runs in OUT/points/<hash of its parameters>/ and ends with
result.json: a re-run skips finished points, an interrupted sweep resumes. A
point that fails (dead network, does not fit, timing missed, build or
simulation failure) is recorded with its status and reason. OUT also gets
results.csv, results.json, pareto.md and pareto-<board>.png.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter,
                 argparse.ArgumentDefaultsHelpFormatter):
    """The epilog's layout kept as written; options show their defaults."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


def configure(parser):
    parser.formatter_class = _Formatter
    parser.epilog = SPEC_HELP
    parser.add_argument("spec", help="sweep specification (TOML, see below and docs/sweep.md)")
    parser.add_argument("--out", default="build/sweep", help="output folder")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on an existing Dask cluster, e.g. tcp://HOST:PORT (its "
                             "workers need the project installed and must see --out); "
                             "default: a local cluster of one worker process per core")
    parser.add_argument("--workers", type=integer(1, 1024, "a number of worker processes"),
                        default=None,
                        help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--retries", type=integer(0, 100, "a number of retries"), default=1,
                        help="Dask retries of a point whose task raised an unexpected error")
    parser.add_argument("--trials", type=integer(1, 10_000, "a number of trials"),
                        default=None,
                        help="a search's total trials, instead of the spec's [search] trials")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args):
    from .runner import run_sweep

    # Failed points are results (recorded with their reasons), not a failed command.
    run_sweep(args.spec, args.out, scheduler=args.scheduler, workers=args.workers,
              retries=args.retries, progress=not args.quiet, trials=args.trials)
    return 0
