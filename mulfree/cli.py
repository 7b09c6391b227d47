"""The ``mulfree`` command line.

Each subcommand lives in the package that owns its stage, in a module that
defines ``configure(parser)`` and ``main(args) -> int``. They are imported
lazily so that ``mulfree train`` does not pay for Amaranth or cocotb.
"""

import argparse
import importlib
import os
import sys

from golden_model.cli_args import OptionError, OptionParser
from golden_model.errors import MulfreeError

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "train": ("golden_model.cmd_train", "train a float/BC/TC/QB network"),
    "learn": ("golden_model.cmd_learn", "integer, multiplier-free training (QTrain) on a dataset"),
    "quantize": ("golden_model.cmd_quantize", "quantize a trained model to a QNet file"),
    "inspect": ("golden_model.cmd_inspect", "print a QNet file's layers, widths and costs"),
    "generate": ("hdl.cmd_generate", "generate the accelerator's Verilog/RTLIL from a QNet"),
    "sim": ("sim.cmd_sim", "verify the generated RTL against the QNet in Verilator/Icarus"),
    "build": ("boards.cmd_build", "build a bitstream for a board, with reports"),
    "build-train": ("boards.cmd_build_train", "build a training bitstream from a QTrain state"),
    "program": ("boards.cmd_program", "program a built bitstream onto a board"),
    "run": ("boards.cmd_run", "stream a test set through a board and check every answer"),
    "sweep": ("sweep.cmd_sweep", "run a grid of networks and boards on Dask; Pareto fronts"),
    "demo": ("mulfree.demo", "the whole flow on the built-in digits dataset"),
}


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every option's default, where there is one to show.

    Flags (default False), options whose default is None (worked out later,
    their help says how) and help texts that already state their default are
    shown as written.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return text
        return super()._get_help_string(action)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mulfree",
        description="Multiplier-free neural-network accelerators for open FPGAs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=OptionParser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=DefaultsHelpFormatter)
        sub_parser.set_defaults(_module=module_name)
    return parser, sub


def main(argv=None):
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = build_parser()
    # Only the chosen subcommand's module is imported (and configures its parser).
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[command][0])
        module.configure(sub.choices[command])
    try:
        args = parser.parse_args(argv)
    except OptionError as error:  # a subcommand's option: one line, as for any bad input
        print(f"mulfree {command}: error: {error}", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        code = int(module.main(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at exit
        return code
    except MulfreeError as error:
        print(f"mulfree {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mulfree: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``mulfree inspect m.qnet.npz | head``): not an error of
        # ours; stdout is pointed at devnull so that the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
