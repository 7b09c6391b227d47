"""A point's training options, as ``mulfree train`` would have them.

The sweep trains through the same option set as ``mulfree train`` so that a
point means exactly what the equivalent command line means, and is checked by
the same rules (:func:`golden_model.cmd_train.check_arguments`).
"""

import argparse
import functools

from golden_model.cli_args import OptionParser


@functools.cache
def _defaults():
    from golden_model import cmd_train

    parser = OptionParser(prog="mulfree train")
    cmd_train.configure(parser)
    return parser.parse_args([])  # never handed out: train_arguments copies it


def train_arguments(point):
    """The ``mulfree train`` arguments (an :class:`argparse.Namespace`) of ``point``.

    Unset options keep ``mulfree train``'s defaults; the activation step is
    ``2**-(act_bits // 2)``, half the width for the fraction (4 bits: step
    1/4, range 0..3.75; 8 bits: 1/16, 0..15.9).
    """
    args = argparse.Namespace(**vars(_defaults()))
    args.dataset = point["dataset"]
    args.arch = None if point["arch"] == "default" else point["arch"]
    args.weights = point["weights"]
    args.qb = bool(point["qb"])
    args.act_bits = int(point["act_bits"])
    args.act_frac = int(point["act_bits"]) // 2
    args.act_quant = "pow2" if point["pow2"] else None
    args.seed = int(point["seed"])
    args.epochs = int(point["epochs"])
    args.quiet = True
    args.threads = 1  # one worker per core: BLAS must not take the others
    return args
